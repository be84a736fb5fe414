import type { CliCommand } from '../context.ts'
import { auditHeads } from './audit-heads.ts'
import { deadLetters } from './dead-letters.ts'
import { audit } from './audit.ts'
import { journal } from './journal.ts'
import { migrate } from './migrate.ts'
import { projections } from './projections.ts'
import { replay } from './replay.ts'
import { reconcileCommand } from './reconcile.ts'

/** Every CLI command by name; a new command is one file here and one line below. */
export const commands: Record<string, CliCommand> = {
  'dead-letters': deadLetters,
  migrate,
  projections,
  'audit-heads': auditHeads,
  replay,
  audit,
  journal,
  reconcile: reconcileCommand,
}
