'use client'
import { createElement, useEffect, useRef, useState, type ReactNode } from 'react'
import { createClient, type Client, type ClientOptions } from 'agentwire'
import { ClientContext } from './context'

export type AgentwireProviderProps = {
  children?: ReactNode
} & (
  /** A client you created and own: the provider neither connects nor closes it. */
  | { client: Client; options?: undefined }
  /** Options for a client the provider creates, connects after mounting and closes on unmount. Read once. */
  | { options: ClientOptions; client?: undefined }
)

/**
 * Gives every agentwire hook below it one client; use one per app.
 *
 * With `options`, the client is created during render without connecting and connected in an
 * effect, so a server render (`renderToString`, RSC's client boundary) never opens a socket.
 * Closing waits one microtask and is skipped when the provider mounts again in that time:
 * StrictMode's unmount and remount in development keeps the one socket it opened.
 */
export function AgentwireProvider(props: AgentwireProviderProps): ReactNode {
  const [owned] = useState(() => (props.client ? null : createClient({ ...props.options, autoConnect: false } as ClientOptions)))
  const mounts = useRef(0)
  useEffect(() => {
    if (!owned) return
    mounts.current++
    owned.connect()
    return () => {
      mounts.current--
      queueMicrotask(() => {
        if (mounts.current === 0) owned.close()
      })
    }
  }, [owned])
  return createElement(ClientContext.Provider, { value: props.client ?? owned }, props.children)
}
