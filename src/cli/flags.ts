import { parseArgs, type ParseArgsConfig } from 'node:util'

/**
 * `parseArgs` with its errors said in one short line (`unknown option --colour`) instead of
 * Node's text, which explains positionals after `--` to someone who mistyped a flag.
 */
export function parseFlags<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> | string {
  try {
    return parseArgs(config)
  } catch (error) {
    return flagError(error)
  }
}

function flagError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  const code = (error as { code?: string }).code
  // Node names the option as '--port <value>' or '-p, --port <value>': take the long name.
  const option = (/'[^']*?(--[\w-]+)/.exec(message) ?? /'(-\w)/.exec(message))?.[1]
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${option ?? message}`
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /argument missing/.test(message) ? `${option ?? 'an option'} needs a value` : `${option ?? 'an option'} takes no value`
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL': {
      const value = /'([^']*)'/.exec(message)?.[1]
      return `unexpected argument${value === undefined ? '' : ` "${value.slice(0, 40)}"`}`
    }
    default:
      return message.split('\n')[0]!.slice(0, 200)
  }
}
