/** The system: health and installed plugins. */
import Type from 'typebox';
import { ref } from './common.js';

export const Health = Type.Object(
  {
    status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
    redis: Type.Object({ ok: Type.Boolean(), latencyMs: Type.Optional(Type.Number()), error: Type.Optional(Type.String()) }),
    dispatcher: Type.Object({ ok: Type.Boolean(), instances: Type.Integer() }),
    executors: Type.Object({ alive: Type.Integer() }),
  },
  { $id: 'Health', description: 'Reachability of Redis and of the dispatcher, and the executors alive.' },
);

export const Plugin = Type.Object(
  {
    name: Type.String(),
    description: Type.String(),
    schemes: Type.Array(Type.String()),
    optInSchemes: Type.Array(Type.String()),
    secretOptions: Type.Array(Type.String()),
    configSchema: Type.Unknown(),
    defaults: Type.Record(Type.String(), Type.Unknown()),
  },
  { $id: 'Plugin', description: 'An installed plugin: the URL schemes it checks and the JSON schema of its options.' },
);

export const PluginList = Type.Array(ref(Plugin), { $id: 'PluginList' });
