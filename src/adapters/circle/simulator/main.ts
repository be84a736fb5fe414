import { createCircleSimulator } from './simulator.ts'

/** `npm run circle:simulator`: the Circle simulator alone, e.g. for a service started with CIRCLE_BASE_URL pointing here. */
const port = Number(process.env.SIMULATOR_PORT ?? 4010)
const simulator = await createCircleSimulator({
  settleMs: Number(process.env.SIMULATOR_SETTLE_MS ?? 1000),
  treasury: process.env.SIMULATOR_TREASURY ?? '1000000.00',
})
const url = await simulator.listen(port, process.env.SIMULATOR_HOST ?? '127.0.0.1')
process.stdout.write(`circle simulator listening on ${url} (master wallet ${simulator.masterWalletId}); any Bearer key is accepted\n`)
const stop = () => void simulator.close().then(() => process.exit(0))
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
