/**
 * The hardware edge of the indicators: everything above it speaks BCM pin numbers (the numbers
 * printed on Raspberry Pi pinout diagrams); a driver maps them to whatever its backend needs.
 */
export interface LedDriver {
  /** Claims the pins as outputs, all off. Rejects naming the first pin that cannot be claimed. */
  open(pins: readonly number[]): Promise<void>;
  /** Drives one opened pin. Synchronous so blink timers never pile up pending writes. */
  set(pin: number, on: boolean): void;
  /** Releases every pin claimed by open(). Safe to call more than once. */
  close(): Promise<void>;
}
