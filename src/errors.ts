/**
 * The one catalog of coded errors: every failure the bridge reports is one of these classes, each
 * with a stable `code` (in the manner of Fastify's FST_ERR_*), in sections by area. `src/server/wire.ts`
 * maps them once to the JSON `error` field. Messages never carry card data, PINs or keys.
 */
import createError from '@fastify/error'

type Cause = { cause?: unknown }

// --- ABECS frames and packets --------------------------------------------------------------------
export const FrameTooLargeError = createError<[number, number]>(
  'MPOS_ERR_FRAME_TOO_LARGE',
  'Packet data of %d bytes exceeds the %d-byte limit (§2.2.1)',
)
export const MalformedPacketError = createError<[string]>('MPOS_ERR_MALFORMED_PACKET', 'Malformed ABECS packet: %s')
export const MalformedResponseError = createError<[string, string]>(
  'MPOS_ERR_MALFORMED_RESPONSE',
  'Malformed %s response from the pinpad: %s',
)
export const InvalidFieldError = createError<[string, string]>('MPOS_ERR_INVALID_FIELD', 'Invalid value for %s: %s')

// --- Host link layer (§2.2.2) --------------------------------------------------------------------
export const LinkAckTimeoutError = createError<[string, number]>(
  'MPOS_ERR_LINK_ACK_TIMEOUT',
  'The pinpad did not acknowledge %s within %d ms (no ACK/NAK)',
)
export const LinkNakLimitError = createError<[string, number]>(
  'MPOS_ERR_LINK_NAK_LIMIT',
  'The pinpad refused %s with NAK %d times',
)
export const LinkResponseTimeoutError = createError<[string, number]>(
  'MPOS_ERR_LINK_RESPONSE_TIMEOUT',
  'The pinpad did not answer %s within %d ms',
)
export const LinkBadResponseError = createError<[string, number]>(
  'MPOS_ERR_LINK_BAD_RESPONSE',
  'The response to %s arrived corrupted %d times',
)
export const LinkCancelledError = createError<[string]>('MPOS_ERR_LINK_CANCELLED', '%s was cancelled')
export const LinkCancelFailedError = createError<[number]>(
  'MPOS_ERR_LINK_CANCEL_FAILED',
  'The pinpad did not confirm the cancellation (no EOT after %d CAN)',
)
export const LinkClosedError = createError<[string]>('MPOS_ERR_LINK_CLOSED', 'The pinpad link is closed: %s')
export const LinkBusyError = createError<[string, string]>(
  'MPOS_ERR_LINK_BUSY',
  'Cannot send %s: %s is still running on this pinpad',
)

// --- Secure session (§5.2) -----------------------------------------------------------------------
export const SecurePacketError = createError<[string]>('MPOS_ERR_SECURE_PACKET', 'Secure packet rejected: %s (§5.2.2.2)')
export const SecureSessionError = createError<[string]>('MPOS_ERR_SECURE_SESSION', 'Secure session not established: %s')

export const PinpadStatusErrorBase = createError<[string, string, string]>(
  'MPOS_ERR_PINPAD_STATUS',
  'The pinpad answered %s with status %s (%s)',
)

// --- Serial ports and their discovery ------------------------------------------------------------
/** Coded errors of the transport layer (serial ports and their discovery). */


export const SerialOpenError = createError<[string, string, Cause?]>(
  'MPOS_ERR_SERIAL_OPEN',
  'Cannot open serial port %s: %s',
)
export const SerialOptionError = createError<[string, string]>(
  'MPOS_ERR_SERIAL_OPTION',
  'Invalid serial port option %s: %s',
)
export const SerialListError = createError<[string, Cause?]>(
  'MPOS_ERR_SERIAL_LIST',
  'Listing serial ports failed: %s',
)

// --- Devices -------------------------------------------------------------------------------------
export const DeviceNotFoundError = createError<[string]>('MPOS_ERR_DEVICE_NOT_FOUND', 'There is no device with id %s')

// --- Pinpad operations ---------------------------------------------------------------------------
export const ChipCardSwipedError = createError<[]>(
  'MPOS_ERR_CHIP_CARD_SWIPED',
  'The card has a chip: insert it instead of swiping (the stripe is accepted only after a chip failure)',
)
export const UnreadableCardError = createError<[string]>('MPOS_ERR_CARD_UNREADABLE', 'The card could not be read: %s')
export const NoApplicationError = createError<[string]>(
  'MPOS_ERR_NO_APPLICATION',
  'None of the allowed applications (%s) is in the pinpad tables',
)
export const DeviceTimeoutError = createError<[number]>(
  'MPOS_ERR_DEVICE_TIMEOUT',
  'The pinpad did not answer within %d ms: is this the right port?',
)

// --- Crypto (DES, DUKPT, PIN blocks, RSA) --------------------------------------------------------
/** A key, KSN or data block has the wrong size: (what, expected, actual byte count). */
export const CryptoLengthError = createError<[string, string, number]>(
  'MPOS_ERR_CRYPTO_LENGTH',
  'Invalid %s length: expected %s bytes, got %d',
)
export const InvalidKsnError = createError<[string]>('MPOS_ERR_DUKPT_INVALID_KSN', 'Invalid DUKPT KSN: %s')
export const DukptCounterExhaustedError = createError<[string]>(
  'MPOS_ERR_DUKPT_COUNTER_EXHAUSTED',
  'The DUKPT transaction counter is exhausted after %s: no 21-bit value with at most 10 bits set is left (X9.24-1)',
)
export const InvalidPinError = createError<[string]>('MPOS_ERR_PIN_INVALID', 'Invalid PIN: %s')
export const InvalidPanError = createError<[string]>('MPOS_ERR_PAN_INVALID', 'Invalid PAN: %s')
export const PinBlockInvalidError = createError<[string]>(
  'MPOS_ERR_PIN_BLOCK_INVALID',
  'Malformed ISO 9564-1 format 0 PIN block: %s',
)
/** An RSA block opened with the private key does not have the expected format: (why). */
export const RsaBlockError = createError<[string]>('MPOS_ERR_RSA_BLOCK', 'Malformed RSA block: %s')

// --- EMV tables store and sync -------------------------------------------------------------------
/** Coded errors of the EMV table store and sync. Messages carry file names (hashed), never keys. */

export const TablesStoreError = createError<[string, { cause?: unknown }?]>(
  'MPOS_ERR_TABLES_STORE',
  'EMV tables store: %s',
)
/** The acquirer answered 304 (up to date) but nothing is stored for this key and pinpad. */
export const TablesMissingError = createError<[]>(
  'MPOS_ERR_TABLES_MISSING',
  'The acquirer says the EMV tables are up to date, but none are stored for this encryption key and pinpad',
)

// --- Acquirer client, sandbox acquirer and card hash ---------------------------------------------
/** HTTP 401: the acquirer does not know this encryption key. Not retried. */
export const AcquirerUnauthorizedError = createError<[string, string]>(
  'MPOS_ERR_ACQUIRER_UNAUTHORIZED',
  'The acquirer refused %s: invalid encryption key (%s)',
)
/** Connection refused, reset, DNS failure… after every retry. */
export const AcquirerUnreachableError = createError<[string, number, string, Cause?]>(
  'MPOS_ERR_ACQUIRER_UNREACHABLE',
  'Cannot reach the acquirer for %s after %d attempt(s): %s',
)
/** No complete answer within the per-request timeout, after every retry. */
export const AcquirerTimeoutError = createError<[string, number, number]>(
  'MPOS_ERR_ACQUIRER_TIMEOUT',
  'The acquirer did not answer %s within %d ms (%d attempt(s))',
)
/** HTTP 5xx after every retry. */
export const AcquirerUnavailableError = createError<[string, number, number]>(
  'MPOS_ERR_ACQUIRER_UNAVAILABLE',
  'The acquirer answered %s with HTTP %d (%d attempt(s))',
)
/** Any other 4xx (or an unexpected status): the request itself was refused. Not retried. */
export const AcquirerRejectedError = createError<[string, number]>(
  'MPOS_ERR_ACQUIRER_REJECTED',
  'The acquirer refused %s with HTTP %d',
)
/** 2xx whose body is not JSON, or not of the expected shape. */
export const AcquirerBadResponseError = createError<[string, string, Cause?]>(
  'MPOS_ERR_ACQUIRER_BAD_RESPONSE',
  'Unexpected answer from the acquirer to %s: %s',
)
/** The caller's AbortSignal fired. */
export const AcquirerAbortedError = createError<[string]>('MPOS_ERR_ACQUIRER_ABORTED', 'The request %s was cancelled')
/** Bad arguments (empty encryption key, bad base URL…). */
export const AcquirerConfigError = createError<[string]>('MPOS_ERR_ACQUIRER_CONFIG', 'Invalid acquirer configuration: %s')

/** The captured card cannot make a card hash (the message names the field, never its value). */
export const CardDataInvalidError = createError<[string]>('MPOS_ERR_CARD_DATA_INVALID', 'Cannot build the card hash: %s')
/** The card-hash public key is unusable. */
export const CardHashKeyInvalidError = createError<[string, Cause?]>(
  'MPOS_ERR_CARD_HASH_KEY_INVALID',
  'Invalid card hash key: %s',
)
/** A card hash that does not decrypt or parse (sandbox and `decrypt-card-hash`). */
export const CardHashInvalidError = createError<[string]>('MPOS_ERR_CARD_HASH_INVALID', 'Invalid card hash: %s')
/** The sandbox key pair in the data directory is unreadable. */
export const SandboxKeyError = createError<[string, Cause?]>('MPOS_ERR_SANDBOX_KEY', 'Sandbox card-hash key: %s')

// --- Virtual pinpad card model -------------------------------------------------------------------
/** `--card NAME` or `findCard(name)` with a name not in the catalogue: (name, valid names). */
export const UnknownTestCardError = createError<[string, string]>(
  'MPOS_ERR_UNKNOWN_TEST_CARD',
  'Unknown test card "%s"; valid names: %s',
)

/** An EMV session was asked for a card that has no EMV application: (card name, interface). */
export const NotEmvCardError = createError<[string, string]>(
  'MPOS_ERR_NOT_EMV_CARD',
  'Test card "%s" (%s) has no EMV application to process',
)

/** The EMV card session was driven out of order (e.g. second GENERATE AC without an ARQC): (what). */
export const EmvSequenceError = createError<[string]>('MPOS_ERR_EMV_SEQUENCE', 'EMV card session: %s')

/** Bad terminal data given to an EMV card session: (field, why). */
export const EmvTerminalDataError = createError<[string, string]>(
  'MPOS_ERR_EMV_TERMINAL_DATA',
  'Invalid EMV terminal data %s: %s',
)

/** A `simulate --tables/--keys` file that does not load: (where, what is wrong). */
export const TerminalFileError = createError<[string]>('MPOS_ERR_TERMINAL_FILE', '%s')

// --- Command line --------------------------------------------------------------------------------
export const UsageError = createError<[string, string]>('MPOS_ERR_USAGE', 'mpos-bridge %s: %s')
/** A configuration file that cannot be read, is not JSON or fails its schema: (the file, what is wrong, naming the key). */
export const ConfigError = createError<[string, string]>('MPOS_ERR_CONFIG', 'Configuration file %s: %s')
/** `mpos-bridge cert`, or `serve --tls` without a usable certificate: (what is wrong). */
export const CertificateError = createError<[string]>('MPOS_ERR_TLS_CERT', 'TLS certificate: %s')

// --- The /ws protocol: messages ----------------------------------------------------------------
export const MessageTooLargeError = createError<[number]>('MPOS_ERR_MESSAGE_TOO_LARGE', 'Messages are limited to %d bytes')
export const InvalidJsonError = createError<[]>('MPOS_ERR_INVALID_JSON', 'The message is not valid JSON')
/** Not a JSON object, or a binary frame: (what is wrong, said in full). */
export const InvalidMessageError = createError<[string]>('MPOS_ERR_INVALID_MESSAGE', '%s')
/** Past the nesting, key, item or string limits (src/server/limits.ts): (which limit). */
export const MessageTooComplexError = createError<[string]>('MPOS_ERR_MESSAGE_TOO_COMPLEX', 'The message is too complex: %s')
export const MissingCommandError = createError<[]>('MPOS_ERR_MISSING_COMMAND', 'command is required')
/** (a bounded preview of the command sent) */
export const UnknownCommandError = createError<[string]>('MPOS_ERR_UNKNOWN_COMMAND', 'Unknown command %s')
/** A field of a /ws request fails its schema: (the schema's description of the first violation). */
export const RequestFieldError = createError<[string]>('MPOS_ERR_INVALID_FIELD', '%s')
/** `amount` above the limit the original accepts: (the schema's description). */
export const AmountTooLargeError = createError<[string]>('MPOS_ERR_AMOUNT_TOO_LARGE', '%s')
export const RateLimitedError = createError<[number]>('MPOS_ERR_RATE_LIMITED', 'More than %d messages per second: slow down')
/** (why the Host header is refused) */
export const ForbiddenHostError = createError<[string]>('MPOS_ERR_FORBIDDEN_HOST', 'Forbidden: %s', 403)
/** (why the Origin is refused) */
export const ForbiddenOriginError = createError<[string]>('MPOS_ERR_FORBIDDEN_ORIGIN', 'Forbidden: %s', 403)
/** The bridge is stopping (SIGTERM): new connections and new work are refused; what runs may end. */
export const ShuttingDownError = createError<[]>('MPOS_ERR_SHUTTING_DOWN', 'The bridge is shutting down: it takes no new work', 503)
/** A devtools control request that fails its schema: (the description). */
export const DevtoolsInvalidError = createError<[string]>('MPOS_ERR_DEVTOOLS_INVALID', '%s', 400)
/** The devtools control API names a virtual pinpad that does not exist: (its id). */
export const NoVirtualPinpadError = createError<[number]>('MPOS_ERR_DEVICE_NOT_FOUND', 'No virtual pinpad %d', 404)
/** A failure in handling one message or one actor, contained to it: (what failed). */
export const INTERNAL_ERROR_CODE = 'MPOS_ERR_INTERNAL'
export const InternalError = createError<[string]>(INTERNAL_ERROR_CODE, 'Internal error: %s')

// --- The /ws protocol: contexts and their pinpads ----------------------------------------------
/** (command refused, command running, context) */
export const ContextBusyError = createError<[string, string, string]>('MPOS_ERR_CONTEXT_BUSY', '%s refused: %s is running in context "%s"')
/** (command refused, the pinpad's state) */
export const PinpadFinishingError = createError<[string, string]>(
  'MPOS_ERR_CONTEXT_BUSY',
  '%s refused: the pinpad is still finishing the previous payment (%s): remove the card',
)
/** (command, context, the commands allowed now) */
export const CommandOutOfOrderError = createError<[string, string, string]>(
  'MPOS_ERR_COMMAND_OUT_OF_ORDER',
  '%s is not allowed now in context "%s"; allowed: %s',
)
export const AlreadyInitializedError = createError<[string]>('MPOS_ERR_ALREADY_INITIALIZED', 'Context "%s" is already initialized')
export const NothingToCancelError = createError<[string]>('MPOS_ERR_NOTHING_TO_CANCEL', 'Nothing runs in context "%s"')
/** (command interrupted, context) */
export const ContextClosedError = createError<[string, string]>('MPOS_ERR_CONTEXT_CLOSED', '%s was interrupted: context "%s" is closing')
/** (the limit, some of the contexts in use) */
export const TooManyContextsError = createError<[number, string]>(
  'MPOS_ERR_TOO_MANY_CONTEXTS',
  'At most %d contexts can be in use at once; reuse one of: %s…',
)
/** (the limit, this connection's contexts) */
export const TooManyConnectionContextsError = createError<[number, string]>(
  'MPOS_ERR_TOO_MANY_CONTEXTS',
  'One connection may use at most %d contexts at once; this one has %s (close one first)',
)
export const NoDeviceError = createError<[]>('MPOS_ERR_NO_DEVICE', 'No pinpad is available')
/** (device id, the context holding it) */
export const DeviceInUseError = createError<[string, string]>('MPOS_ERR_DEVICE_IN_USE', 'Device %s is already in use by context "%s"')
/** The context's pinpad went away: ("closed", or "disconnected: <reason>"). */
export const DeviceDisconnectedError = createError<[string]>('MPOS_ERR_DEVICE_DISCONNECTED', 'The pinpad was %s')
/** The pinpad went away in the middle of a payment: (the reason). */
export const PaymentLinkLostError = createError<[string]>('MPOS_ERR_LINK_CLOSED', 'The pinpad was disconnected: %s')
/** The customer's time ran out (the pinpad's ST_TIMEOUT or the host's deadline): (the timeout in ms). */
export const PaymentTimeoutError = createError<[number]>(
  'MPOS_ERR_PAYMENT_TIMEOUT',
  'The customer did not complete the payment within %d ms (012 ST_TIMEOUT)',
)
/** (why: cancel, or the context closing) */
export const PaymentCanceledError = createError<[string]>('MPOS_ERR_PAYMENT_CANCELED', '%s')
/**
 * A command or option the pinpad's ABECS version does not have: (the /ws command or field, the
 * pinpad's spec version, what it needs). Nothing is sent to the pinpad.
 */
export const NotSupportedError = createError<[string, string, string]>(
  'MPOS_ERR_NOT_SUPPORTED',
  '%s is not supported by this pinpad (ABECS %s): %s',
)
/** pinpad_menu / pinpad_input ended without an answer: (why — the customer's CANCELA, or a cancel request). */
export const PromptCanceledError = createError<[string]>('MPOS_ERR_PROMPT_CANCELED', '%s')
/** The customer did not answer a prompt in time (the pinpad's ST_TIMEOUT or the host's deadline): (what, the timeout in ms). */
export const PromptTimeoutError = createError<[string, number]>(
  'MPOS_ERR_PROMPT_TIMEOUT',
  'The customer did not answer the %s within %d ms (012 ST_TIMEOUT)',
)
/** No EOT to CAN (§2.2.2.3): the pinpad is let go. */
export const DeviceUnresponsiveError = createError<[]>(
  'MPOS_ERR_DEVICE_TIMEOUT',
  'The pinpad stopped answering (no EOT to CAN): it was let go; initialize again once it is back',
)
export const TablesOutdatedError = createError<[]>('MPOS_ERR_TABLES_OUTDATED', 'The pinpad still reports other EMV tables after a reload (020)')
/** A machine was started without one of the I/O actors it needs (a wiring bug): (actor name). */
export const NotProvidedError = createError<[string]>('MPOS_ERR_NOT_PROVIDED', 'device actor "%s" was not provided')

// --- Payment journal (src/journal/) --------------------------------------------------------------
/** (the data directory) */
export const DataDirLockedError = createError<[string]>(
  'MPOS_ERR_DATA_DIR_LOCKED',
  'Another mpos-bridge is running on the data directory %s (its journal is locked): stop it, or start this one with another --data-dir',
)
/** (the journal file, what failed) */
export const JournalOpenError = createError<[string, string]>('MPOS_ERR_JOURNAL', 'The journal %s could not be opened: %s')
/** (command_id, context, the command it was used for) */
export const CommandIdReusedError = createError<[string, string, string]>(
  'MPOS_ERR_COMMAND_ID_REUSED',
  'command_id %s was already used in context "%s" for another request (%s): use a new command_id for a new request',
)
/** (command, command_id) */
export const CommandInterruptedError = createError<[string, string]>(
  'MPOS_ERR_COMMAND_INTERRUPTED',
  '%s %s was interrupted (the bridge stopped before it answered): look at the pinpad and status, then send a new command_id',
)

// --- The browser client (src/client/index.ts) -----------------------------------------------------
// The client has no imports (it is served to pages as one module): it rejects with these codes by
// name, and test/architecture.test.ts checks that every code it uses is defined here.
/** A call got no answer within its timeout: (command, ms). The bridge may still be working on it. */
export const ClientTimeoutError = createError<[string, number]>('MPOS_ERR_CLIENT_TIMEOUT', 'No answer to %s within %d ms')
/** The first connection could not be opened (refused handshake, nothing listening): (reason). */
export const ConnectionFailedError = createError<[string]>('MPOS_ERR_CONNECTION_FAILED', 'Cannot connect to the bridge: %s')
/** The connection dropped and the call cannot be recovered (not journaled, never received, or reconnection given up): (reason). */
export const ConnectionLostError = createError<[string]>('MPOS_ERR_CONNECTION_LOST', 'The connection to the bridge was lost: %s')
/** `disconnect()` was called while the call waited, or a call came after it. */
export const ClientDisconnectedError = createError('MPOS_ERR_CLIENT_DISCONNECTED', 'The client is disconnected')
/** GET /client.js before the client was built (`npm run build:client`; `npm ci` runs it). */
export const ClientNotBuiltError = createError('MPOS_ERR_CLIENT_NOT_BUILT', 'The browser client is not built: run npm run build:client', 503)

// --- Pairing (src/server/pairing/) ---------------------------------------------------------------
/** With --require-pairing, before `pair` or `authenticate`: (the command refused, why). */
export const NotPairedError = createError<[string, string]>(
  'MPOS_ERR_NOT_PAIRED',
  '%s refused: %s. Until then only list_devices, status, pair and authenticate are allowed',
)
/** (tries left before the code is locked) */
export const PairingCodeWrongError = createError<[number]>('MPOS_ERR_PAIRING_CODE_WRONG', 'Wrong pairing code (%d tries left)')
/** No code can be used now: (why — expired, already used, none issued). */
export const PairingCodeExpiredError = createError<[string]>(
  'MPOS_ERR_PAIRING_CODE_EXPIRED',
  'No pairing code is valid: %s. Ask the shop for a new one (mpos-bridge pair)',
)
/** (how many wrong tries locked it) */
export const PairingLockedError = createError<[number]>(
  'MPOS_ERR_PAIRING_LOCKED',
  'Pairing is locked after %d wrong codes: the code is void. Ask the shop for a new one (mpos-bridge pair)',
)
/** (attempts allowed, per how many seconds) */
export const PairingRateLimitedError = createError<[number, number]>(
  'MPOS_ERR_PAIRING_RATE_LIMITED',
  'Too many pairing attempts: at most %d per %d seconds on this bridge; try again shortly',
)
export const PairingTokenUnknownError = createError<[]>('MPOS_ERR_PAIRING_TOKEN_UNKNOWN', 'Unknown pairing token: pair this page again')
export const PairingTokenRevokedError = createError<[]>('MPOS_ERR_PAIRING_TOKEN_REVOKED', 'This pairing token was revoked: pair this page again')
/** (the origin the token was issued to, this connection's) */
export const PairingWrongOriginError = createError<[string, string]>(
  'MPOS_ERR_PAIRING_WRONG_ORIGIN',
  'This pairing token was issued to %s, not to %s',
)
/** The admin route refused a request: (why — not loopback, a browser Origin). */
export const AdminForbiddenError = createError<[string]>('MPOS_ERR_ADMIN_FORBIDDEN', 'Forbidden: %s', 403)
/** (why — no secret, a wrong one) */
export const AdminUnauthorizedError = createError<[string]>('MPOS_ERR_ADMIN_UNAUTHORIZED', 'Unauthorized: %s', 401)
/** (the pairing id) */
export const PairingNotFoundError = createError<[string]>('MPOS_ERR_PAIRING_NOT_FOUND', 'No live pairing with id %s', 404)
/** The CLI could not reach the running bridge's admin route: (the URL, why). */
export const BridgeUnreachableError = createError<[string, string]>(
  'MPOS_ERR_BRIDGE_UNREACHABLE',
  'The bridge at %s could not be reached (%s): is `mpos-bridge serve` running with this --data-dir and port?',
)
