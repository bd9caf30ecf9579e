export type * from './client/types'
