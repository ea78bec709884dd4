/**
 * The top-level config schema (DESIGN.md, "Config shape"). Component options are not here: each
 * component's factory carries its own schema, checked by the loader once `type` is known.
 * Descriptions and defaults feed docs/configuration.md (scripts/config-reference.mjs).
 */
import { Type, type Static } from '@sinclair/typebox';

/**
 * Component and pipeline names end up in paths (`<data_dir>/<role>/<name>/`) and metric labels;
 * `__proto__` would be an object's prototype, not a name.
 */
export const NAME_PATTERN = '^(?!__proto__$)[A-Za-z0-9_][A-Za-z0-9_.-]*$';

export const ComponentRefSchema = Type.Object(
  { type: Type.String({ minLength: 1, description: 'Which component to build (its YAML type).' }) },
  // Open here: the options are checked against the component's own schema afterwards.
  { additionalProperties: true },
);

export const PipelineSchema = Type.Object(
  {
    sources: Type.Array(Type.String(), { minItems: 1, description: 'Names of the sources feeding this pipeline.' }),
    transforms: Type.Optional(
      Type.Array(Type.String(), { default: [], description: 'Names of the transforms each batch passes through, in this order.' }),
    ),
    sinks: Type.Array(Type.String(), { minItems: 1, description: 'Names of the sinks every batch goes to.' }),
  },
  { additionalProperties: false },
);

export const LogLevelSchema = Type.Union([Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error')], {
  default: 'info',
  description: 'Lowest level of the program\'s own log (JSON lines on stderr).',
});

export const TopLevelSchema = Type.Object(
  {
    data_dir: Type.String({
      minLength: 1,
      description: 'Directory for checkpoints, disk buffers and the embedded store; a component keeps its state under `<data_dir>/<role>/<name>/`.',
    }),
    agent: Type.Optional(
      Type.Object(
        {
          id: Type.Optional(
            Type.String({ minLength: 1, description: 'Stable identity of this agent (`tidewatch.agent.id`); generated once and kept under data_dir when absent.' }),
          ),
          host_name: Type.Optional(Type.String({ minLength: 1, description: 'Host name set on every record (`host.name`); the OS host name when absent.' })),
        },
        { additionalProperties: false, default: {}, description: 'Identity of this process, set on every record it originates.' },
      ),
    ),
    log: Type.Optional(
      Type.Object({ level: Type.Optional(LogLevelSchema) }, { additionalProperties: false, default: {}, description: 'The program\'s own log.' }),
    ),
    sources: Type.Optional(
      Type.Record(Type.String({ pattern: NAME_PATTERN }), ComponentRefSchema, { default: {}, description: 'Named sources: `name: { type, ...options }`.' }),
    ),
    transforms: Type.Optional(
      Type.Record(Type.String({ pattern: NAME_PATTERN }), ComponentRefSchema, { default: {}, description: 'Named transforms: `name: { type, ...options }`.' }),
    ),
    sinks: Type.Optional(
      Type.Record(Type.String({ pattern: NAME_PATTERN }), ComponentRefSchema, { default: {}, description: 'Named sinks: `name: { type, ...options }`.' }),
    ),
    pipelines: Type.Optional(
      Type.Record(Type.String({ pattern: NAME_PATTERN }), PipelineSchema, {
        default: {},
        description: 'Named pipelines wiring sources through transforms to sinks.',
      }),
    ),
  },
  { additionalProperties: false },
);

export type TopLevel = Static<typeof TopLevelSchema>;
