package app

import (
	"net/netip"
	"time"

	"github.com/milestone/husky/sharing"
)

// Config is every setting of the service, read from HUSKY_* environment
// variables and overridden by flags of `husky serve`.
type Config struct {
	DB              string
	Addr            string
	RetrySchedule   sharing.Schedule
	DeliveryTimeout time.Duration
	DeliveryWorkers int
	DisableAfter    time.Duration
	FiscalYearStart int
	FiscalTZ        *time.Location
	RetentionYears  int
	// RequestRetentionYears is how long a completed data-subject
	// request's records are kept (HUSKY_REQUEST_RETENTION_YEARS).
	RequestRetentionYears int
	AllowPrivateEndpoints bool
	AuditKey              string
	Keyring               string // master keys that encrypt secrets at rest
	// Controller is who is responsible for the processing and how to reach
	// it and its data-protection officer, as the record of processing,
	// exports and replies state them (HUSKY_CONTROLLER_NAME, _ADDRESS,
	// _CONTACT, HUSKY_DPO_CONTACT).
	ControllerName, ControllerAddress, ControllerContact, DPOContact string
	// RootKeyFile, when set, keeps the keyring and the audit signing key
	// in the database, sealed by the root key in this file
	// (HUSKY_ROOT_KEY_FILE); AuditKey and Keyring then only name files to
	// import (husky keys import).
	RootKeyFile string
	PurgeDaily  time.Duration // time of day of the daily purge; negative = off
	Demo        bool
	LogFormat   string // json or text; default json unless stderr is a terminal
	// TLSCert and TLSKey, both set, make serve speak HTTPS itself.
	TLSCert, TLSKey string
	// RateLimit is requests per second per API key (bursts of twice
	// that); 0 turns the limit off.
	RateLimit float64
	// PprofAddr, if set, serves pprof on this loopback address.
	PprofAddr string
	// KeyRotation is how often serve rotates the master key (0: never);
	// BackupRetention how long a retired master key is kept, so that
	// backups made before the rotation stay readable.
	KeyRotation, BackupRetention time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For and
	// X-Forwarded-Proto the service believes; SecureCookies marks the
	// console's cookies Secure even without TLS here (a proxy terminates it).
	TrustedProxies []netip.Prefix
	SecureCookies  bool
	// ConsoleIdle ends a console session this long after its last use
	// (default 15m, the company's policy); ConsoleLifetime this long after
	// sign-in however it is used (default 8h).
	ConsoleIdle, ConsoleLifetime time.Duration
	// ErasureReminders are the delays after an erasure notice at which it
	// is sent again while the recipient has not confirmed it; empty: never.
	ErasureReminders []time.Duration
}

// DefaultRetrySchedule is about three days of retries after the immediate
// first attempt.
const DefaultRetrySchedule = "5s,5m,30m,2h,5h,10h,10h,24h,24h"
