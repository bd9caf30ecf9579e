import pc from 'picocolors'
import { initialState, reduce, type AgentEvent } from 'agentwire/protocol'
import { startSimulator, type Simulator } from 'agentwire/server'
import { parsePort, startGateway, StartError, untilSignal } from './gateway'
import { eventLine } from './lines'
import { createScreen } from './screen'
import { DEMO_HELP, EXIT_OK, EXIT_START, usageError as commandUsageError } from './usage'
import { parseFlags } from './flags'
import { renderView } from './view'

/**
 * `agentwire demo`: the gateway, the simulated fleet and the dashboard in one process. The
 * terminal view folds the published events with the same `reduce` the clients use, so it
 * shows what every dashboard shows without a connection of its own.
 */
export async function demo(args: string[]): Promise<number> {
  const parsed = parseFlags({
    args,
    options: {
      port: { type: 'string', short: 'p' },
      host: { type: 'string', default: '127.0.0.1' },
      redis: { type: 'string' },
      seed: { type: 'string' },
      'no-view': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (typeof parsed === 'string') return usageError(parsed)
  const { values } = parsed
  if (values.help) {
    process.stdout.write(DEMO_HELP)
    return EXIT_OK
  }
  const port = parsePort(values.port, 8787)
  if (typeof port === 'string') return usageError(port)
  const seed = values.seed === undefined ? undefined : Number(values.seed)
  if (seed !== undefined && !Number.isInteger(seed)) return usageError(`--seed expects a whole number, got "${values.seed}"`)

  // The simulator needs the gateway to publish, and the gateway hands commands to the simulator.
  let simulator: Simulator | undefined
  let started
  try {
    started = await startGateway({
      port,
      host: values.host,
      portExplicit: values.port !== undefined,
      redis: values.redis,
      onCommand: (command, context) => (simulator ? simulator.onCommand(command, context) : context.defaultHandler()),
    })
  } catch (error) {
    process.stderr.write(`agentwire demo: ${error instanceof StartError ? error.message : String(error)}\n`)
    return EXIT_START
  }
  const { gateway, httpUrl, wsUrl } = started
  const out = process.stdout
  const live = !values['no-view'] && out.isTTY === true

  let state = initialState()
  const screen = live
    ? createScreen(out, (width) =>
        renderView(state, 'open', width, {
          color: pc.isColorSupported,
          title: 'agentwire demo',
          header: [...(started.note ? [started.note] : []), `dashboard ${httpUrl}  ·  websocket ${wsUrl}  ·  ${gateway.stats().connections} client(s)  ·  Ctrl-C to stop`],
        }),
      )
    : undefined

  if (!live) {
    if (started.note) out.write(`${started.note}\n`)
    out.write(`agentwire demo: a simulated fleet of agents (${gateway.broker.name} broker)\n`)
    out.write(`  dashboard  ${httpUrl}\n`)
    out.write(`  websocket  ${wsUrl}\n`)
    out.write(`  watch it   npx agentwire watch ${wsUrl}\n`)
  }
  const publish = (channel: string, event: AgentEvent) => {
    state = reduce(state, event)
    if (screen) screen.invalidate()
    else if (event.type === 'system.notification' || event.type === 'request.question' || event.type === 'request.completed') out.write(`${eventLine(event, { channel })}\n`)
    return gateway.publish(channel, event)
  }
  simulator = startSimulator(publish, {
    ...(seed === undefined ? {} : { seed }),
    onError: (error) => process.stderr.write(`agentwire demo: publish failed: ${(error as Error).message ?? String(error)}\n`),
  })
  screen?.invalidate()

  const signal = await untilSignal()
  // What runs ends as failed or cancelled before the gateway closes: a Redis broker keeps the
  // streams, and the next demo on it would otherwise show this run's tasks as running for ever.
  const wrapped = simulator.wrapUp('the demo stopped')
  screen?.done()
  out.write(`${signal}: closing…\n`)
  await Promise.race([wrapped, new Promise((resolve) => setTimeout(resolve, 2000).unref())])
  await started.close()
  return EXIT_OK
}

function usageError(message: string): number {
  return commandUsageError('demo', message)
}
