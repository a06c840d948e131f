/** An error answered by an MLflow server: carries MLflow's `error_code` (e.g. INVALID_PARAMETER_VALUE). */
export class MlflowApiError extends Error {
  override readonly name = 'MlflowApiError';
  constructor(
    readonly status: number,
    readonly errorCode: string,
    readonly serverMessage: string,
    readonly endpoint: string,
    readonly retryable: boolean,
  ) {
    super(`MLflow ${endpoint} failed: HTTP ${status} ${errorCode}: ${serverMessage}`);
  }
}

/** The server could not be reached at all (refused, reset, DNS, timeout) after the retries. */
export class MlflowUnreachableError extends Error {
  override readonly name = 'MlflowUnreachableError';
  constructor(
    readonly uri: string,
    readonly endpoint: string,
    readonly causeMessage: string,
  ) {
    super(`MLflow server at ${uri} is unreachable (${endpoint}: ${causeMessage})`);
  }
}

/** A value the caller passed that MLflow would refuse; thrown at the call, before anything is written. */
export class TrackingInputError extends Error {
  override readonly name = 'TrackingInputError';
}
