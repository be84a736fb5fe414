import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { load, measured, transferRequest } from './lib/autocannon.ts'
import { startCommandServers } from './lib/http-servers.ts'
import { coveredSeconds } from './lib/intervals.ts'
import { plotSeries } from './lib/plot.ts'
import { percentiles, ratios, round, type BenchOptions, type Check, type Measurement, type Report, type Target } from './lib/report.ts'

export const title = 'POST /transfers held at 70% of its measured maximum: errors, throughput, p99 and the service’s RSS over time'

/** Seconds at the held rate (`BENCH_SOAK_SECONDS`, default 600). */
const SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? 600)
/** Seconds per sample (`BENCH_SOAK_INTERVAL`, default 10). */
const INTERVAL = Number(process.env.BENCH_SOAK_INTERVAL ?? 10)
/** `commands`: take the maximum from bench/results/commands.json (32 connections) instead of measuring it first. */
const MAX_FROM = process.env.BENCH_SOAK_MAX === 'commands' ? 'commands' : 'measured'
/** Connections of the probe and of the held load (the commands benchmark's 32; tiny mode 4). */
const CONNECTIONS = 32
const SHARE = 0.7

interface Sample {
  /** Seconds since the held load started, at the end of the interval. */
  t: number
  requestsPerSecond: number
  p50Ms: number
  p99Ms: number
  rssMb: number
  /** V8's heap in use and reserved, and memory outside it (Buffers and other external allocations), MB. */
  heapUsedMb: number
  heapTotalMb: number
  externalMb: number
  /** Process-manager tasks due and not yet run at the end of the interval (admission control holds POSTs at 200). */
  backlog: number
  /** Seconds of the interval during which a reconciliation run of the service was in progress. */
  reconcilingSeconds: number
  errors: number
}

export async function run(options: BenchOptions) {
  const seconds = options.tiny ? 4 : SECONDS
  const interval = options.tiny ? 1 : INTERVAL
  const connections = options.tiny ? 4 : CONNECTIONS
  const servers = await startCommandServers(options.databaseUrl, options.tiny ? 4 : 64)
  try {
    const next = () => transferRequest(servers.wallets)
    // The maximum: POST /transfers at 32 connections, closed loop (each keeps one request in flight), on this very service; or the commands benchmark's figure.
    let max: Measurement
    let maxSource: string
    const fromCommands = MAX_FROM === 'commands' ? await commandsMax(options.resultsDir) : undefined
    const checks: Check[] = []
    if (fromCommands) {
      max = { ...fromCommands, subject: 'max' }
      maxSource = `bench/results/commands.json (${CONNECTIONS} connections, ${fromCommands.extra?.at})`
    } else {
      const probeSeconds = options.tiny ? 2 : 15
      const warmSeconds = options.tiny ? 1 : 15
      options.log(`soak: measuring the maximum (${connections} connections, ${warmSeconds} s to fill the queue, then ${probeSeconds} s measured)`)
      // Saturating the service sheds the excess with 503 overloaded once a request has waited ADMISSION_WAIT_MS:
      // that is admission control at work, and it is counted apart from failures.
      // Only the steady state counts: while the process manager's queue fills up to the admission
      // limit the API accepts more than the service carries out (200 tasks in 15 s would add 13 req/s),
      // so the first `warmSeconds` fill the queue and are not measured.
      let shed = 0
      const steady: number[] = []
      const probeStart = performance.now()
      // The queue when counting starts: near the limit, the counted half measures what the service carries out.
      let backlogAtCount = Number.NaN
      const atCount = setTimeout(() => void servers.backlog().then((n) => (backlogAtCount = n), () => undefined), warmSeconds * 1000)
      const result = await load(servers.serviceUrl, {
        connections,
        seconds: warmSeconds + probeSeconds,
        next,
        onResponse: (status, ms) => {
          if (status === 503) shed++
          else if (status >= 200 && status < 300 && performance.now() - probeStart >= warmSeconds * 1000) steady.push(ms)
        },
      })
      clearTimeout(atCount)
      const probe = measured('max', 'maximum', result)
      max = {
        ...probe.measurement,
        rate: round(steady.length / probeSeconds, 0),
        operations: steady.length,
        seconds: probeSeconds,
        ...percentiles(steady),
        extra: {
          ...probe.measurement.extra,
          shed503: shed,
          warmSeconds,
          // 2xx a second while the queue filled (not counted), and the due tasks when counting started.
          warmRate: round((result['2xx'] - steady.length) / warmSeconds, 0),
          backlogAtCount,
        },
      }
      checks.push({
        description: 'maximum: every request answered 2xx, or 503 when admission control shed it',
        ok: steady.length > 0 && result.errors + result.timeouts === 0 && result.non2xx === shed,
        detail: `2xx ${result['2xx']} (${steady.length} in the measured ${probeSeconds} s), 503 ${shed}, other non-2xx ${result.non2xx - shed}, errors ${result.errors}, timeouts ${result.timeouts}`,
      })
      maxSource = `measured in this run (${connections} connections, the ${probeSeconds} s after ${warmSeconds} s of filling the queue)`
    }
    // The probe leaves accepted work behind; the held load starts once the process manager has caught up.
    const drainSeconds = await servers.tasksDrained(120_000)
    options.log(`soak: the process manager caught up with the probe's work in ${round(drainSeconds, 1)} s`)
    const rate = Math.max(1, Math.round(max.rate * SHARE))
    options.log(`soak: ${rate} requests/s (${SHARE * 100}% of ${max.rate}, ${maxSource}) for ${seconds} s, a sample every ${interval} s`)

    const samples: Sample[] = []
    // Each sample's latencies, kept for the p99 of a whole minute.
    const windows: number[][] = []
    let window: number[] = []
    let windowErrors = 0
    let all: number[] = []
    let errors = 0
    const started = performance.now()
    const startedAt = Date.now()
    // The sample being taken, if any: awaited before the samples are read, so none lands after.
    let sampling: Promise<void> = Promise.resolve()
    const sampler = setInterval(() => {
      sampling = (async () => {
        const latencies = window
        const failed = windowErrors
        window = []
        windowErrors = 0
        const t = round((performance.now() - started) / 1000, 1)
        const rssMb = await rss(servers.pid)
        const memory = await Promise.race([servers.memory(), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 1000))])
        const backlog = await Promise.race([servers.backlog().catch(() => Number.NaN), new Promise<number>((resolve) => setTimeout(() => resolve(Number.NaN), 1000))])
        const mb = (bytes: number | undefined) => (bytes === undefined ? Number.NaN : round(bytes / 1e6, 1))
        const sample: Sample = {
          t,
          requestsPerSecond: round(latencies.length / interval, 1),
          ...percentiles(latencies),
          rssMb,
          heapUsedMb: mb(memory?.heapUsed),
          heapTotalMb: mb(memory?.heapTotal),
          externalMb: mb(memory?.external),
          backlog,
          reconcilingSeconds: 0,
          errors: failed,
        }
        samples.push(sample)
        windows.push(latencies)
        options.log(
          `soak: ${sample.t} s: ${sample.requestsPerSecond} req/s, p50 ${sample.p50Ms} ms, p99 ${sample.p99Ms} ms, RSS ${rssMb} MB (heap ${sample.heapUsedMb} of ${sample.heapTotalMb}, external ${sample.externalMb}), backlog ${backlog}, errors ${failed}`,
        )
      })().catch((err: unknown) => options.log(`soak: a sample failed: ${String(err)}`))
    }, interval * 1000)
    let result
    try {
      result = await load(servers.serviceUrl, {
        connections,
        seconds,
        next,
        overallRate: rate,
        onResponse: (status, ms) => {
          if (status >= 200 && status < 300) {
            window.push(ms)
            all.push(ms)
          } else {
            windowErrors++
            errors++
          }
        },
        onError: () => {
          windowErrors++
          errors++
        },
      })
    } finally {
      clearInterval(sampler)
      await sampling
    }
    // The service's reconciler runs on the same cores every RECONCILE_INTERVAL: where its runs fell.
    const runs = (await servers.reconciliationRuns())
      .map((r) => ({ start: (r.startedAt.getTime() - startedAt) / 1000, end: ((r.finishedAt ?? new Date()).getTime() - startedAt) / 1000, checked: r.checked }))
      .filter((r) => r.end > 0)
    // A sample covers the time since the one before (a late timer makes it longer than the interval).
    samples.forEach((s, i) => (s.reconcilingSeconds = round(coveredSeconds(samples[i - 1]?.t ?? 0, s.t, runs), 1)))
    const last = samples.at(-1)?.t ?? 0
    // A run still going when the load stopped is cut there (`finished: false`); one that started after it is left out.
    const reconciliationRuns = runs
      .filter((r) => r.start < last)
      .map((r) => ({ startSecond: round(r.start, 1), seconds: round(Math.min(r.end, last) - r.start, 1), finished: r.end <= last, checked: r.checked }))
    for (const r of reconciliationRuns) {
      options.log(`soak: a reconciliation run from ${r.startSecond} s ${r.finished ? 'took' : 'was still going after'} ${r.seconds} s (${JSON.stringify(r.checked)})`)
    }
    const held = measured('soak', `${SHARE * 100}% of the maximum`, result)
    checks.push(held.check)
    checks.push({ description: 'no request failed during the soak', ok: errors === 0, detail: `${errors} errors or non-2xx answers` })
    const gone = samples.filter((s) => Number.isNaN(s.rssMb)).length
    checks.push({ description: 'the service process ran to the end', ok: gone === 0 && !Number.isNaN(await rss(servers.pid)), detail: gone === 0 ? `pid ${servers.pid}` : `gone for ${gone} of ${samples.length} samples` })

    // The windows: minute 2 against minute 10, i.e. at 2/10 and at the end of the run.
    const inEarly = (s: Sample) => s.t > seconds * 0.1 && s.t <= seconds * 0.2 + interval / 2
    const inLate = (s: Sample) => s.t > seconds * 0.9
    const early = samples.filter(inEarly)
    const late = samples.filter(inLate)
    const mean = (xs: number[]) => (xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length)
    const rssEarly = mean(early.map((s) => s.rssMb))
    const rssLate = mean(late.map((s) => s.rssMb))
    // The p99 of every request answered in the minute (about 60 × the rate of them): a sample's own
    // p99 rests on its slowest few requests, so their mean swung 0.7–1.6 between soaks of the same code.
    const minuteP99 = (keep: (s: Sample) => boolean) => percentiles(windows.filter((_, i) => keep(samples[i]!)).flat()).p99Ms
    const p99Early = minuteP99(inEarly)
    const p99Late = minuteP99(inLate)
    const answered = (xs: Sample[]) => xs.filter((s) => s.requestsPerSecond > 0).map((s) => s.p99Ms)
    const rssRatio = round(rssLate / rssEarly, 3)
    const p99Ratio = round(p99Late / p99Early, 2)
    // The figure before: the mean of the samples' p99s, minute 10 over minute 2 (kept for comparison).
    const p99RatioOfSampleMeans = round(mean(answered(late)) / mean(answered(early)), 2)
    const overall = percentiles(all)
    all = []

    const soak: Measurement = {
      ...held.measurement,
      p50Ms: overall.p50Ms || held.measurement.p50Ms,
      p99Ms: overall.p99Ms || held.measurement.p99Ms,
      extra: { ...held.measurement.extra, targetRate: rate, intervalSeconds: interval, maxSource, rssRatioLateToMinute2: rssRatio, p99RatioLateToMinute2: p99Ratio, p99RatioOfSampleMeans, reconciliationRuns, samples },
    }
    const measurements = [soak, max]
    const scenario = {
      name: `${SHARE * 100}% of the maximum for ${seconds} s`,
      parameters: { connections, seconds, targetRate: rate, intervalSeconds: interval },
      measurements,
      ratios: ratios(measurements, [['soak', 'max']]),
    }
    const targets: Target[] = [
      { description: `0 errors (${errors})`, met: errors === 0 },
      { description: `held the rate: ≥ 0.95 × ${rate} requests/s (${soak.rate})`, met: soak.rate >= rate * 0.95 },
      { description: `RSS at the end within ±10% of minute 2 (${round(rssEarly, 1)} → ${round(rssLate, 1)} MB, ${rssRatio})`, met: rssRatio >= 0.9 && rssRatio <= 1.1 },
      {
        description: `p99 stable: the last minute's ≤ 1.5 × minute 2's (${round(p99Early, 1)} → ${round(p99Late, 1)} ms, ${p99Ratio}; the mean of the samples' p99s ${p99RatioOfSampleMeans})`,
        met: p99Ratio <= 1.5,
      },
    ]

    const plot = path.join(options.resultsDir, 'soak.png')
    await plotSeries(
      plot,
      `POST /transfers at ${rate} req/s (${SHARE * 100}% of ${max.rate}), ${connections} connections`,
      samples.map((s) => ({ t: s.t, rate: s.requestsPerSecond, p99: s.p99Ms, rss: s.rssMb, backlog: s.backlog, reconciling: s.reconcilingSeconds })),
      { field: 't', title: 'seconds' },
      [
        { field: 'rate', title: 'requests/s' },
        { field: 'p99', title: 'p99 ms' },
        { field: 'rss', title: 'service RSS MB' },
        { field: 'backlog', title: 'due tasks' },
        { field: 'reconciling', title: 'reconciling (s of each sample)' },
      ],
    )
    const png = await readFile(plot)
    checks.push({ description: 'the plot was drawn', ok: png.subarray(1, 4).toString() === 'PNG' && samples.length > 0, detail: `${path.basename(plot)}, ${png.length} bytes, ${samples.length} samples` })
    return { title, unit: 'requests/s', scenarios: [scenario], targets, checks }
  } finally {
    await servers.stop()
  }
}

/** Resident set size of a process, MB; NaN once the process is gone. */
async function rss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1]
  return kb === undefined ? NaN : round(Number(kb) / 1024, 1)
}

/** The service's figure at 32 connections from the last commands benchmark, if there is one. */
async function commandsMax(resultsDir: string): Promise<Measurement | undefined> {
  try {
    const report = JSON.parse(await readFile(path.join(resultsDir, 'commands.json'), 'utf8')) as Report
    const at = report.scenarios.find((s) => s.parameters.connections === CONNECTIONS)?.measurements.find((m) => m.subject === 'service')
    return at && { ...at, extra: { ...at.extra, at: report.startedAt } }
  } catch {
    return undefined
  }
}
