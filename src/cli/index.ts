import { version } from '../../package.json'
import { demo } from './demo'
import { serve } from './serve'
import { EXIT_OK, EXIT_USAGE, USAGE } from './usage'
import { watch } from './watch'

/** The `agentwire` command: one function per command, each resolving with the exit code. */
const commands: Record<string, (args: string[]) => Promise<number>> = { demo, serve, watch }

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === '--version' || command === '-v') {
    process.stdout.write(`${version}\n`)
    return EXIT_OK
  }
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE)
    return EXIT_OK
  }
  const run = command === undefined ? undefined : commands[command]
  if (!run) {
    process.stderr.write(`${command === undefined ? 'agentwire: missing command' : `agentwire: unknown command "${command.slice(0, 40)}"`}\n\n${USAGE}`)
    return EXIT_USAGE
  }
  return run(rest)
}

// A reader that went away (`agentwire watch … | head`) ends the command quietly.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0)
  throw error
})

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`agentwire: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exit(1)
  },
)
