import { ConfigError, loadConfig } from '../config.ts'
import { commands } from './commands/index.ts'
import { connect, UsageError, type CliContext } from './context.ts'

/**
 * `circle-ledger <command> [...]` (also `npm run cli -- <command>`): configured from the same
 * environment as the service. Human output by default, `--json` for machines.
 */
function usage(): string {
  const width = Math.max(...Object.values(commands).map((c) => c.usage.length))
  return [
    'usage: circle-ledger [--json] <command> [options]',
    '',
    ...Object.values(commands).map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`),
    '',
  ].join('\n')
}

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json')
  const args = argv.filter((a) => a !== '--json')
  const [name, ...rest] = args
  // Help asked for is an answer (stdout, exit 0); no command or an unknown one is a usage mistake.
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage())
    return 0
  }
  const command = name === undefined ? undefined : commands[name]
  if (!command) {
    process.stderr.write(name === undefined ? usage() : `circle-ledger: unknown command "${name}"\n\n${usage()}`)
    return 2
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`usage: circle-ledger ${command.usage}\n  ${command.summary}\n`)
    return 0
  }
  const config = loadConfig()
  const ctx: CliContext = { config, json, stdout: process.stdout, stderr: process.stderr, connect: () => connect(config) }
  try {
    return await command.run(rest, ctx)
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`circle-ledger ${name}: ${err.message}\nusage: circle-ledger ${command.usage}\n`)
      return 2
    }
    throw err
  }
}

try {
  process.exitCode = await main(process.argv.slice(2))
} catch (err) {
  process.stderr.write(`circle-ledger: ${err instanceof ConfigError ? err.message : err instanceof Error ? err.message : String(err)}\n`)
  process.exitCode = 1
}
