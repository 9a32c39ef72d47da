import type { ErrorCode } from '@hale/protocol';

/** An expected refusal with a stable protocol error code (the error table in @hale/protocol). */
export class ServiceError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}
