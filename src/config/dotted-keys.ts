/**
 * Reading and writing a configuration value (or a schema entry) by its dotted key,
 * `window.hopSeconds`: the names the reload policy, the runtime settings and their MQTT
 * messages use.
 */

/**
 * The value at `dotted` in `root`, or undefined when a part is missing. Only own properties
 * count, so a key sent over MQTT such as `window.constructor` finds nothing.
 */
export function valueAt(root: object, dotted: string): unknown {
  let node: unknown = root;
  for (const part of dotted.split('.')) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** Sets the value at `dotted` in `root`, whose sections on the way must exist. */
export function setAt(root: object, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  const last = parts.pop() as string;
  let node = root as Record<string, unknown>;
  for (const part of parts) node = node[part] as Record<string, unknown>;
  node[last] = value;
}
