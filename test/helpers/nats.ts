import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import type { Test } from 'tap'
import type { LedgerStreamOptions } from '../../src/adapters/nats/stream.ts'

/** The machine's NATS server (JetStream enabled); NATS_TEST_URL overrides it. */
export const machineNats = process.env.NATS_TEST_URL ?? 'nats://127.0.0.1:4222'

/**
 * A stream name and subject prefix of this test alone (`T<hex>` on `t<hex>.ledger.v1.>`), so test
 * files sharing one server never see each other's messages; the stream is deleted at teardown.
 */
export function testStream(t: Test, servers = machineNats): LedgerStreamOptions & { servers: string } {
  const tag = randomBytes(4).toString('hex')
  const options = { servers, name: `T${tag}`, subjectPrefix: `t${tag}.ledger.v1`, maxAgeMs: 3_600_000, duplicateWindowMs: 600_000 }
  t.teardown(async () => {
    const nc = await connect({ servers, timeout: 2000 }).catch(() => undefined)
    if (!nc) return
    const jsm = await jetstreamManager(nc)
    await jsm.streams.delete(options.name).catch(() => undefined)
    await nc.close()
  })
  return options
}

export interface StoredMessage {
  seq: number
  subject: string
  msgId: string | undefined
  data: Record<string, unknown>
}

/** Every message of a stream, in stream order. */
export async function streamMessages(servers: string, stream: string): Promise<StoredMessage[]> {
  const nc = await connect({ servers })
  try {
    const js = jetstream(nc)
    const consumer = await js.consumers.get(stream, { deliver_policy: DeliverPolicy.All })
    const info = await consumer.info(true)
    const out: StoredMessage[] = []
    if (info.num_pending === 0) return out
    const messages = await consumer.consume()
    for await (const m of messages) {
      out.push({ seq: m.seq, subject: m.subject, msgId: m.headers?.get('Nats-Msg-Id') || undefined, data: m.json() })
      if (m.info.pending === 0) break
    }
    await messages.close()
    return out
  } finally {
    await nc.close()
  }
}

/** Polls until `check` holds (or fails with the last value after `timeoutMs`). */
export async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let value = await read()
  while (!check(value)) {
    if (Date.now() > deadline) throw new Error(`condition not reached within ${timeoutMs} ms; last value: ${JSON.stringify(value).slice(0, 500)}`)
    await sleep(100)
    value = await read()
  }
  return value
}

export async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** A nats-server of the test's own (JetStream, file storage in a temporary directory) that the test can stop and start again on the same port. */
export async function ownNatsServer(t: Test): Promise<{ url: string; start(): Promise<void>; stop(): Promise<void> }> {
  // Debian installs the server in /usr/sbin, which is not on every user's PATH.
  const binary = process.env.NATS_SERVER_BIN ?? (spawnSync('nats-server', ['--version']).status === 0 ? 'nats-server' : '/usr/sbin/nats-server')
  const dir = mkdtempSync(path.join(os.tmpdir(), 'notify-nats-'))
  const port = await freePort()
  let child: ChildProcess | undefined
  const start = async () => {
    child = spawn(binary, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], { stdio: 'ignore' })
    const deadline = Date.now() + 10_000
    for (;;) {
      const ok = await new Promise<boolean>((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => (socket.destroy(), resolve(true)))
        socket.on('error', () => resolve(false))
      })
      if (ok) break
      if (Date.now() > deadline) throw new Error(`nats-server did not listen on ${port}`)
      await sleep(50)
    }
  }
  const stop = async () => {
    const c = child
    child = undefined
    if (!c || c.exitCode !== null) return
    const exited = new Promise((resolve) => c.once('exit', resolve))
    c.kill('SIGKILL')
    await exited
  }
  await start()
  t.teardown(async () => {
    await stop()
    rmSync(dir, { recursive: true, force: true })
  })
  return { url: `nats://127.0.0.1:${port}`, start, stop }
}

/**
 * A TCP proxy in front of a NATS server that can hold back what the server sends (PubAcks
 * included) by `delayMs`, to make NATS slow without making it unreachable.
 */
export async function slowProxy(t: Test, upstream: string): Promise<{ url: string; delayMs: number; sent: () => string; firstAck?: { sentBefore: string } }> {
  const target = new URL(upstream)
  let upstreamBytes = ''
  const state: { url: string; delayMs: number; sent: () => string; firstAck?: { sentBefore: string } } = { url: '', delayMs: 0, sent: () => upstreamBytes }
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    const server = net.connect(Number(target.port || 4222), target.hostname)
    sockets.add(client).add(server)
    let last = 0
    server.on('data', (chunk) => {
      // Never reorder: a chunk leaves no earlier than the one before it.
      const at = Math.max(Date.now() + state.delayMs, last)
      last = at
      setTimeout(() => {
        // What the client had sent when the first PubAck reached it.
        if (!state.firstAck && chunk.toString('latin1').includes('"seq":')) state.firstAck = { sentBefore: upstreamBytes }
        if (client.writable) client.write(chunk)
      }, at - Date.now())
    })
    client.on('data', (chunk: Buffer) => {
      upstreamBytes += chunk.toString('latin1')
      server.write(chunk)
    })
    const close = () => (client.destroy(), server.destroy(), sockets.delete(client), sockets.delete(server))
    client.on('error', close).on('close', close)
    server.on('error', close).on('close', close)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  state.url = `nats://127.0.0.1:${(server.address() as net.AddressInfo).port}`
  t.teardown(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return state
}
