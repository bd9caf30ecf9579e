/**
 * Test helpers for apps built on agentwire. mock-socket is an optional peer: install it in
 * your dev dependencies to use this entry.
 */
export {
  createMockGateway,
  type MockGateway,
  type MockGatewayOptions,
  type MockConnection,
  type MockCommandContext,
  type PublishableEvent,
} from './mock-gateway'
