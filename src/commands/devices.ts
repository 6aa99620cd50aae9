import { listCaptureDevices } from '../capture/devices.js';
import { EXIT, type Command } from './command.js';
import { refusePositionals } from './options.js';
import { formatTable } from './table.js';

export const devicesCommand: Command = {
  usage: 'ser-agent devices [--json]',
  options: { json: { type: 'boolean' } },
  async run(values, positionals, context) {
    refusePositionals('devices', positionals, 'it lists every capture device');
    const listing = await listCaptureDevices(context.env);
    if (!listing.found) {
      context.err(listing.message);
      return EXIT.failure;
    }
    if (values['json'] === true) {
      for (const device of listing.devices) context.out(JSON.stringify(device));
    } else if (listing.devices.length > 0) {
      const rows = listing.devices.map((device) => [device.device, device.description]);
      for (const line of formatTable(['device', 'description'], rows)) context.out(line);
    }
    if (listing.devices.length === 0) {
      context.err(
        'no capture devices found; plug in a microphone (USB, or a HAT with its overlay enabled), or replay recordings with "ser-agent run --input FILE..."',
      );
    }
    return EXIT.ok;
  },
};
