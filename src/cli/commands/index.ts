import type { CliCommand } from '../context.ts'
import { migrate } from './migrate.ts'
import { projections } from './projections.ts'
import { reconcileCommand } from './reconcile.ts'

/** Every CLI command by name; a new command is one file here and one line below. */
export const commands: Record<string, CliCommand> = {
  migrate,
  projections,
  reconcile: reconcileCommand,
}
