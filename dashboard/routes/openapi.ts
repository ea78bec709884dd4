/** `GET /api/v1/openapi.json`: the API's description (OpenAPI 3.1), kept next to the routes it describes. */
import type { FastifyInstance } from 'fastify';

const err = { description: 'Bad request', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
const json = (schema: Record<string, unknown>, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
const q = (name: string, description: string, schema: Record<string, unknown> = { type: 'string' }, required = false) => ({ name, in: 'query', required, description, schema });
const obj = { type: 'object' };

export const OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'tidewatch dashboard API',
    version: '1',
    description:
      'JSON under /api/v1. Times are epoch milliseconds. When the dashboard has a token, send `Authorization: Bearer TOKEN` (or the cookie set by `/?token=TOKEN`). POST requests need the `x-tidewatch-csrf` header from GET /api/v1/session.',
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, csrf: { type: 'apiKey', in: 'header', name: 'x-tidewatch-csrf' } },
    schemas: {
      Error: { type: 'object', properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } } },
      Point: { type: 'array', prefixItems: [{ type: 'number', description: 'time' }, { type: 'number', description: 'value' }] },
      Alert: {
        type: 'object',
        properties: {
          alert_id: { type: 'string' }, rule: { type: 'string' }, status: { enum: ['firing', 'pending', 'resolved'] }, severity: { enum: ['info', 'warning', 'critical'] },
          labels: { type: 'object', additionalProperties: { type: 'string' } }, started_at: { type: 'number' }, time: { type: 'number' }, resolved_at: { type: ['number', 'null'] },
          value: { type: 'number' }, score: { type: ['number', 'null'] }, summary: { type: 'string' },
          acknowledged: { type: ['object', 'null'] }, silenced_until: { type: ['number', 'null'] },
        },
      },
    },
  },
  security: [{}, { bearer: [] }],
  paths: {
    '/healthz': { get: { summary: 'Liveness; never needs the token', responses: { 200: json(obj) } } },
    '/metrics': { get: { summary: 'Collected series and self-telemetry, Prometheus text format 0.0.4', responses: { 200: { description: 'text/plain; version=0.0.4' } } } },
    '/api/v1/series': { get: { summary: 'Every series held, with point counts and totals', responses: { 200: json(obj) } } },
    '/api/v1/query': {
      get: {
        summary: 'Points of the series named `name` in [from, to]',
        parameters: [
          q('name', 'metric name', { type: 'string' }, true),
          q('from', 'epoch ms, now, or relative (-5m, -1h); default -5m'),
          q('to', 'epoch ms, now, or relative; default now'),
          q('match[LABEL]', 'keep series whose LABEL equals this (repeatable with other labels)'),
          q('group_by', 'comma-separated labels: sum the series per distinct value combination'),
          q('width', 'chart width in pixels: at most about 2 points per pixel (min/max per bucket)', { type: 'integer', minimum: 10, maximum: 10000 }),
        ],
        responses: { 200: json({ type: 'object', properties: { resolution_ms: { type: 'integer' }, series: { type: 'array' } } }), 400: err },
      },
    },
    '/api/v1/stream': {
      get: {
        summary: 'Server-sent events: only new points. `data: {"series":[...new ids],"points":[[id,time,value]...]}` every 250 ms; `event: resync` when the client fell behind',
        parameters: [q('name', 'only series of this metric')],
        responses: { 200: { description: 'text/event-stream' }, 503: err },
      },
    },
    '/api/v1/session': { get: { summary: 'The CSRF token for POST requests', responses: { 200: json({ type: 'object', properties: { csrf: { type: 'string' } } }) } } },
    '/api/v1/overview': { get: { summary: 'Lines/s by severity, error ratio, top and new patterns, firing alerts, agents', responses: { 200: json(obj) } } },
    '/api/v1/alerts': { get: { summary: 'Every alert (firing, pending, resolved) and the transition history', responses: { 200: json({ type: 'object', properties: { alerts: { type: 'array', items: { $ref: '#/components/schemas/Alert' } }, history: { type: 'array' } } }) } } },
    '/api/v1/alerts/{id}/ack': {
      post: {
        summary: 'Acknowledge an alert', security: [{ csrf: [] }],
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        requestBody: { content: { 'application/json': { schema: { type: 'object', properties: { by: { type: 'string' } } } } } },
        responses: { 200: json(obj), 403: err, 404: err },
      },
    },
    '/api/v1/alerts/{id}/silence': {
      post: {
        summary: 'Silence an alert for some minutes', security: [{ csrf: [] }],
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        requestBody: { content: { 'application/json': { schema: { type: 'object', properties: { minutes: { type: 'number' }, by: { type: 'string' } } } } } },
        responses: { 200: json(obj), 400: err, 403: err, 404: err },
      },
    },
    '/api/v1/patterns': { get: { summary: 'Pattern catalog with per-minute sparklines', parameters: [q('sort', 'count (default) or new'), q('limit', '1 to 5000')], responses: { 200: json(obj), 400: err } } },
    '/api/v1/agents': { get: { summary: 'Per agent: last seen, lines/s, lag bytes per file, drops by reason, ok/silent/stopped', responses: { 200: json(obj) } } },
    '/api/v1/logs': {
      get: {
        summary: 'Live tail: sampled parsed lines newer than `after`',
        parameters: [q('after', 'last seq seen (0 for the newest lines)'), q('severity', 'exact severity'), q('host', 'exact host'), q('pattern', 'pattern id'), q('contains', 'case-insensitive substring'), q('limit', '1 to 5000')],
        responses: { 200: json(obj), 400: err },
      },
    },
    '/api/v1/openapi.json': { get: { summary: 'This document', responses: { 200: json(obj) } } },
  },
} as const;

export function registerOpenApi(app: FastifyInstance): void {
  app.get('/api/v1/openapi.json', async () => OPENAPI);
}
