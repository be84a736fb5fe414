import { createCircleSimulator } from './simulator.ts'
import { memoryState, postgresState } from './state.ts'

/**
 * `npm run circle:simulator`: the Circle simulator alone, e.g. for services started with CIRCLE_BASE_URL
 * pointing here. In memory unless SIMULATOR_DATABASE_URL names a PostgreSQL database (then durable,
 * in its `circle_sim` schema). Loopback only unless SIMULATOR_HOST says otherwise.
 */
const port = Number(process.env.SIMULATOR_PORT ?? 4010)
const databaseUrl = process.env.SIMULATOR_DATABASE_URL
const simulator = await createCircleSimulator({
  settleMs: Number(process.env.SIMULATOR_SETTLE_MS ?? 1000),
  treasury: process.env.SIMULATOR_TREASURY ?? '1000000.00',
  state: databaseUrl ? await postgresState(databaseUrl) : memoryState(),
  ...(process.env.SIMULATOR_CONTROL_TOKEN ? { controlToken: process.env.SIMULATOR_CONTROL_TOKEN } : {}),
})
const url = await simulator.listen(port, process.env.SIMULATOR_HOST ?? '127.0.0.1')
process.stdout.write(
  `circle simulator listening on ${url} (master wallet ${simulator.masterWalletId}, state ${simulator.state.kind}); any Bearer key is accepted on /v1\n` +
    `control routes (/sim/*): Authorization: Bearer ${process.env.SIMULATOR_CONTROL_TOKEN ? '<SIMULATOR_CONTROL_TOKEN>' : simulator.controlToken}\n`,
)
const stop = () => void simulator.close().then(() => process.exit(0))
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
