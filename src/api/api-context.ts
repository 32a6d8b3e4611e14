import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { DestinationPolicy } from '../infra/egress/destination-policy';
import type { ApiKeyStore } from '../store/api-key-store';
import type { EndpointStore } from '../store/endpoint-store';
import type { FlowControlStore } from '../store/flow-control-store';
import type { EventPublisher } from '../store/event-publisher';
import type { PortalSessionStore } from '../store/portal-session-store';
import type { SigningKeyStore } from '../store/signing-key-store';
import type { TenantStore } from '../store/tenant-store';
import type { DeliveryOperations } from './delivery-operations';
import type { OrderedLaneOperations } from './ordered-lanes';
import type { dryRunDelivery } from './dry-run';

/*
 * What every route module is given: the typed Fastify instance and the service's dependencies. Kept apart from
 * server.ts, which registers the route modules, so that the route modules do not import their own registrar.
 */

/** The Fastify instance the route modules register on: zod schemas type the requests and replies. */
export type ApiInstance = FastifyInstance<Server, IncomingMessage, ServerResponse, FastifyBaseLogger, ZodTypeProvider>;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The handler gets the body as its exact text (strict UTF-8), for routes that keep the caller's bytes. */
    rawBody?: boolean;
  }
}

export interface ApiDependencies {
  readonly endpoints: EndpointStore;
  /** The live flow control state shown on an endpoint's read; absent in harnesses that do not wire it. */
  readonly flowControl?: Pick<FlowControlStore, 'state'>;
  readonly tenants: TenantStore;
  readonly apiKeys: ApiKeyStore;
  /** Short-lived tenant portal sessions (the `wps_` tokens of portal links). */
  readonly portalSessions: Pick<PortalSessionStore, 'create' | 'resolve' | 'revokeAll' | 'end'>;
  /** Each tenant's ed25519 keys for `v1a`: public halves for the API and the JWKS, private ones for the dry run. */
  readonly signingKeys: Pick<SigningKeyStore, 'publicKeys' | 'ensure' | 'rotate' | 'activeSigningKeys' | 'deleteAll'>;
  readonly publisher: EventPublisher;
  /** Builds request bodies and headers exactly as deliveries do (for the dry run). */
  readonly requests: Parameters<typeof dryRunDelivery>[2]['requests'];
  readonly destinations: Pick<DestinationPolicy, 'checkUrl'>;
  readonly operations: Pick<
    DeliveryOperations,
    'get' | 'list' | 'cancel' | 'retry' | 'replay' | 'listDeadLetters' | 'cancelTenant' | 'forgetTenant'
  >;
  /** Ordered delivery: paused keys and their resume. */
  readonly orderedLanes: Pick<OrderedLaneOperations, 'listPaused' | 'resume' | 'cancelEndpoint'>;
  readonly maxEventBytes: number;
  /** Deepest nesting accepted in an event's `data` (WSS_MAX_EVENT_DEPTH). */
  readonly maxEventDepth: number;
  readonly secretGraceMs: number;
  /**
   * Dependency checks (`ok` or what is wrong; any other value answers 503) and notices: recent events an
   * operator should know of that do not make the service unhealthy, such as a recreated consumer group.
   */
  readonly health: () => Promise<{ checks: Record<string, 'ok' | string>; notices?: string[] }>;
}
