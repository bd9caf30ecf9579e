import pc from 'picocolors'
import { parsePort, startGateway, StartError, untilSignal } from './gateway'
import { EXIT_OK, EXIT_START, SERVE_HELP, usageError as commandUsageError } from './usage'
import { parseFlags } from './flags'

/** `agentwire serve`: the gateway alone, until SIGINT or SIGTERM. */
export async function serve(args: string[]): Promise<number> {
  const parsed = parseFlags({
    args,
    options: {
      port: { type: 'string', short: 'p' },
      host: { type: 'string', default: '127.0.0.1' },
      redis: { type: 'string' },
      agui: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (typeof parsed === 'string') return usageError(parsed)
  const { values } = parsed
  if (values.help) {
    process.stdout.write(SERVE_HELP)
    return EXIT_OK
  }
  const port = parsePort(values.port, 8787)
  if (typeof port === 'string') return usageError(port)

  if (values.agui !== undefined && !/^https?:\/\/\S+$/.test(values.agui)) return usageError(`--agui expects an http(s) URL of an AG-UI agent, got "${values.agui}"`)

  let started
  try {
    started = await startGateway({ port, host: values.host, portExplicit: values.port !== undefined, redis: values.redis, agui: values.agui })
  } catch (error) {
    process.stderr.write(`agentwire serve: ${error instanceof StartError ? error.message : String(error)}\n`)
    return EXIT_START
  }
  const out = process.stdout
  if (started.note) out.write(`${pc.yellow(started.note)}\n`)
  out.write(`agentwire gateway listening (${started.gateway.broker.name} broker)\n`)
  out.write(`  websocket  ${pc.cyan(started.wsUrl)}\n`)
  out.write(`  dashboard  ${pc.cyan(started.httpUrl)}\n`)
  out.write(`  stats      ${pc.cyan(`${started.httpUrl}stats`)}\n`)
  if (values.agui !== undefined) out.write(`  AG-UI      ${pc.cyan(`${started.httpUrl}agui`)} (runs ${values.agui} on start)\n`)
  out.write(pc.dim('Ctrl-C to stop.\n'))

  const signal = await untilSignal()
  out.write(`${signal}: closing (clients get 1012 and reconnect elsewhere)…\n`)
  await started.close()
  out.write('closed.\n')
  return EXIT_OK
}

function usageError(message: string): number {
  return commandUsageError('serve', message)
}
