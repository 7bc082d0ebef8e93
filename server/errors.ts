// The error shapes of the Algorithmia API (docs/api-reference.md §1.4–1.6). Handlers throw ApiError; the
// server's error handler turns it into the body and status, and repeats the message in X-Error-Message
// (which Data API clients read on HEAD and whenever the body is not an error JSON).
import { FastifyError, FastifyReply, FastifyRequest } from "fastify";

export const ErrorCode = {
    AlgorithmNotFound: 1000,
    AlgorithmNameDoesNotExist: 1001,
    AlgorithmNameHasBeenTaken: 1002,
    VersionAlreadyPublished: 1007,
    AlgorithmIdDoesNotExist: 1009,
    AlgorithmBuildNotFound: 1010,
    AlgorithmBuildLogsNotFound: 1011,
    VersionDoesNotExist: 1014,
    NotAuthorized: 2001,
    NotAuthenticated: 2002,
    MalformedJson: 2013,
    InvalidRequest: 2015,
    UserNotFound: 3000,
    OrganizationNotFound: 3100,
    OrganizationAlreadyExists: 3101,
    MalformedOrganizationJson: 3103,
    OrganizationTypeNotFound: 3108,
    UnknownAlgorithmLanguage: 4001,
    ScmConfigurationNotFound: 4009,
    InternalServerError: 5001,
    InvalidMarker: 5002,
    InvalidLimit: 5003,
    SecretMetadataConstraintViolation: 8001,
    CreateRequiresSecretValue: 8004,
    SecretProviderNotFound: 8006,
    SecretNotFound: 8008,
    InputValidationError: 6001,
} as const;

export class ApiError extends Error {
    constructor(
        readonly status: number,
        message: string,
        readonly code?: number,
        /** A body other than the standard `{error:{code,message}}`, e.g. the legacy `{"error":"No such algorithm"}`. */
        readonly body?: unknown,
    ) {
        super(message);
    }

    toBody(): unknown {
        return this.body ?? { error: { code: this.code ?? codeForStatus(this.status), message: this.message } };
    }
}

export const notAuthenticated = () =>
    new ApiError(
        401,
        "Authentication required: pass an API key in the Authorization header",
        ErrorCode.NotAuthenticated,
    );
/** 403 code 2001; `why` (what the caller lacks) follows the standard message. */
export const notAuthorized = (why?: string) =>
    new ApiError(
        403,
        `Caller is not authorized to perform the operation${why ? `: ${why}` : ""}`,
        ErrorCode.NotAuthorized,
    );
export const invalidRequest = (message: string) => new ApiError(400, message, ErrorCode.InvalidRequest);
export const notFound = (message: string, code?: number) => new ApiError(404, message, code);
export const malformedJson = (detail: string) =>
    new ApiError(400, `Malformed JSON: ${detail}`, ErrorCode.MalformedJson);

function codeForStatus(status: number): number {
    if (status === 401) return ErrorCode.NotAuthenticated;
    if (status === 403) return ErrorCode.NotAuthorized;
    if (status >= 500) return ErrorCode.InternalServerError;
    return ErrorCode.InvalidRequest;
}

export function errorHandler(err: FastifyError | ApiError, request: FastifyRequest, reply: FastifyReply): void {
    let apiError: ApiError;
    if (err instanceof ApiError) {
        apiError = err;
    } else if (err.code === "FST_ERR_CTP_INVALID_JSON_BODY" || err.code === "FST_ERR_CTP_EMPTY_JSON_BODY") {
        apiError = malformedJson(err.message);
    } else if (err.statusCode && err.statusCode < 500) {
        apiError = new ApiError(err.statusCode, err.message);
    } else {
        // Said whatever the logger: a 500 is our own failure, and whoever runs the server needs its cause.
        request.log.error({ err }, "unhandled error");
        console.error(`algorithmia-local: internal error on ${request.method} ${request.url}: ${err.stack ?? err}`);
        apiError = new ApiError(500, "Internal server error", ErrorCode.InternalServerError);
    }
    // Header values must be one line of Latin-1.
    reply.header("X-Error-Message", apiError.message.replace(/[^\x20-\x7e]/g, "?"));
    reply.status(apiError.status).send(apiError.toBody());
}

/**
 * A route the API does not have: 404 in the API's error shape (HEAD replies carry no body, so X-Error-Message
 * says it). A known path asked with a method it lacks is such a route too, not a 405: the API defines its
 * operations by method and path, and 405 is none of its replies.
 */
export function routeNotFound(request: FastifyRequest, reply: FastifyReply): void {
    errorHandler(new ApiError(404, `No such route: ${request.method} ${request.url.split("?")[0]}`), request, reply);
}
