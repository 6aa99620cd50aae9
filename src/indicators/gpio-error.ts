import { SerError } from '../errors.js';

/** A GPIO pin or the GPIO subsystem that cannot be used. */
export class GpioError extends SerError {
  /** The BCM pin concerned, when the failure is about one pin. */
  readonly pin: number | undefined;

  constructor(message: string, options?: ErrorOptions & { pin?: number }) {
    super('GPIO', message, options);
    this.pin = options?.pin;
  }
}
