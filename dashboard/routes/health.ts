/** `GET /healthz`: 200 while the server answers; the body says how much it holds, for humans. */
import type { FastifyInstance } from 'fastify';
import type { RouteDeps } from '../server.js';

export function registerHealth(app: FastifyInstance, deps: RouteDeps): void {
  app.get('/healthz', async (_req, reply) => {
    void reply.header('cache-control', 'no-store');
    return { status: 'ok', series: deps.store.size, time: new Date(deps.now()).toISOString() };
  });
}
