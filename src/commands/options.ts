import { UsageError } from '../errors.js';
import { type OptionValues } from './command.js';

/** A string flag's value, or undefined when absent. */
export function stringOption(values: OptionValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

export function requiredString(values: OptionValues, name: string, hint: string): string {
  const value = stringOption(values, name);
  if (value === undefined) throw new UsageError(`--${name} is required: ${hint}`);
  return value;
}

export function stringList(values: OptionValues, name: string): string[] {
  const value = values[name];
  return Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
}

/** An integer flag within [min, max]; the message names the flag, the value and the range. */
export function integerOption(
  values: OptionValues,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = stringOption(values, name);
  if (raw === undefined) return fallback;
  const parsed = Number(raw);
  if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}; got "${raw}"`);
  }
  return parsed;
}

export function choiceOption<T extends string>(
  values: OptionValues,
  name: string,
  choices: readonly T[],
  fallback: T,
): T {
  const raw = stringOption(values, name);
  if (raw === undefined) return fallback;
  if (!(choices as readonly string[]).includes(raw)) {
    throw new UsageError(`--${name} must be one of ${choices.join(', ')}; got "${raw}"`);
  }
  return raw as T;
}

/** Commands that take their inputs from flags refuse stray words, which are usually typos. */
export function refusePositionals(command: string, positionals: readonly string[], hint: string): void {
  if (positionals.length > 0) {
    throw new UsageError(`${command} takes no positional arguments; got "${positionals.join(' ')}" (${hint})`);
  }
}

/** The --data folders (repeatable); at least one is required. */
export function dataDirectories(values: OptionValues): string[] {
  const dirs = stringList(values, 'data');
  if (dirs.length === 0) throw new UsageError('--data DIR is required (repeat it for several datasets)');
  return dirs;
}
