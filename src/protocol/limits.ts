/** Subscriptions per frame: larger sets travel in several frames. */
export const MAX_SUBSCRIBE_BATCH = 50
