/**
 * Lets the event loop run. Long synchronous stretches of tfjs work in a test starve the test
 * runner's worker RPC, which vitest then reports as an unhandled "Timeout calling
 * onTaskUpdate" error; loops of many inferences call this between chunks.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
