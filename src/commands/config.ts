import { redactConfig } from '../config/load.js';
import { EXIT, type Command } from './command.js';
import { refusePositionals } from './options.js';

export const configCommand: Command = {
  usage: 'ser-agent config [--config FILE]',
  options: {},
  run(_values, positionals, context) {
    refusePositionals('config', positionals, 'use --config FILE');
    context.out(JSON.stringify(redactConfig(context.config), null, 2));
    return Promise.resolve(EXIT.ok);
  },
};
