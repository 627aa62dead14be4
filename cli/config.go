package cli

import (
	"cmp"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/milestone/husky/app"
	"github.com/milestone/husky/sharing"
	"github.com/milestone/husky/store"
)

// rawConfig holds the settings as text, before validation.
type rawConfig struct {
	timeout, workers, disableAfter, purgeDaily                                   string
	db, addr, retry, fyStart, fyTZ, retention, allowPrivate, auditKey, logFormat string
	keyring, tlsCert, tlsKey, rateLimit, pprofAddr, keyRotation, backupRetention string
	consoleIdle, consoleLifetime                                                 string
	erasureReminders, trustedProxies, secureCookies, rootKeyFile                 string
	controllerName, controllerAddress, controllerContact, dpoContact             string
	requestRetention                                                             string
}

// ConfigFrom reads the settings as a command does without flags, from
// the HUSKY_ variables getenv returns (os.Getenv: the process's own).
func ConfigFrom(getenv func(string) string) (app.Config, error) {
	return envConfig(getenv).config()
}

func envConfig(getenv func(string) string) rawConfig {
	return rawConfig{
		db:                cmp.Or(getenv("HUSKY_DB"), "husky.db"),
		addr:              cmp.Or(getenv("HUSKY_ADDR"), "127.0.0.1:8080"),
		retry:             cmp.Or(getenv("HUSKY_RETRY_SCHEDULE"), app.DefaultRetrySchedule),
		fyStart:           cmp.Or(getenv("HUSKY_FISCAL_YEAR_START"), "1"),
		fyTZ:              cmp.Or(getenv("HUSKY_FISCAL_TZ"), "Europe/Copenhagen"),
		retention:         cmp.Or(getenv("HUSKY_RETENTION_YEARS"), "5"),
		allowPrivate:      cmp.Or(getenv("HUSKY_ALLOW_PRIVATE_ENDPOINTS"), "false"),
		auditKey:          getenv("HUSKY_AUDIT_KEY"),
		keyring:           getenv("HUSKY_KEYRING"),
		rootKeyFile:       getenv("HUSKY_ROOT_KEY_FILE"),
		controllerName:    cmp.Or(getenv("HUSKY_CONTROLLER_NAME"), "Milestone Systems A/S"),
		controllerAddress: cmp.Or(getenv("HUSKY_CONTROLLER_ADDRESS"), "Banemarksvej 50, 2605 Brøndby, Denmark"),
		controllerContact: getenv("HUSKY_CONTROLLER_CONTACT"),
		dpoContact:        getenv("HUSKY_DPO_CONTACT"),
		requestRetention:  cmp.Or(getenv("HUSKY_REQUEST_RETENTION_YEARS"), "3"),
		tlsCert:           getenv("HUSKY_TLS_CERT"),
		tlsKey:            getenv("HUSKY_TLS_KEY"),
		rateLimit:         cmp.Or(getenv("HUSKY_RATE_LIMIT"), "100"),
		pprofAddr:         getenv("HUSKY_PPROF_ADDR"),
		keyRotation:       cmp.Or(getenv("HUSKY_KEY_ROTATION"), "720h"),
		erasureReminders:  cmp.Or(getenv("HUSKY_ERASURE_REMINDERS"), "168h,720h"),
		trustedProxies:    getenv("HUSKY_TRUSTED_PROXIES"),
		secureCookies:     cmp.Or(getenv("HUSKY_SECURE_COOKIES"), "false"),
		backupRetention:   cmp.Or(getenv("HUSKY_BACKUP_RETENTION"), "840h"),
		consoleIdle:       cmp.Or(getenv("HUSKY_CONSOLE_IDLE"), "15m"),
		consoleLifetime:   cmp.Or(getenv("HUSKY_CONSOLE_LIFETIME"), "8h"),
		timeout:           cmp.Or(getenv("HUSKY_DELIVERY_TIMEOUT"), "15s"),
		workers:           cmp.Or(getenv("HUSKY_DELIVERY_WORKERS"), "32"),
		disableAfter:      cmp.Or(getenv("HUSKY_DISABLE_AFTER"), "120h"),
		purgeDaily:        cmp.Or(getenv("HUSKY_PURGE_DAILY"), "02:00"),
		logFormat:         getenv("HUSKY_LOG_FORMAT"),
	}
}

// bind registers a flag for each setting on fs, defaulting to the
// environment's value. Commands other than serve bind only --db.
func (r *rawConfig) bind(fs *flag.FlagSet, all bool) {
	fs.StringVar(&r.db, "db", r.db, "database: a SQLite file, or a postgres:// URL (HUSKY_DB)")
	fs.StringVar(&r.keyring, "keyring", r.keyring, "keyring file of master keys (HUSKY_KEYRING; default: beside the database)")
	fs.StringVar(&r.rootKeyFile, "root-key-file", r.rootKeyFile,
		"root key file: the keyring and the audit key are then kept in the database, sealed by it (HUSKY_ROOT_KEY_FILE)")
	fs.BoolFunc("allow-private-endpoints", "allow webhook endpoints on loopback and private networks (HUSKY_ALLOW_PRIVATE_ENDPOINTS)",
		func(string) error { r.allowPrivate = "true"; return nil })
	if !all {
		return
	}
	fs.StringVar(&r.addr, "addr", r.addr, "listen address (HUSKY_ADDR)")
	fs.StringVar(&r.retry, "retry-schedule", r.retry, "delays between delivery attempts (HUSKY_RETRY_SCHEDULE)")
	fs.StringVar(&r.fyStart, "fiscal-year-start", r.fyStart, "first month of the fiscal year, 1-12 (HUSKY_FISCAL_YEAR_START)")
	fs.StringVar(&r.fyTZ, "fiscal-tz", r.fyTZ, "time zone of the fiscal calendar (HUSKY_FISCAL_TZ)")
	fs.StringVar(&r.retention, "retention-years", r.retention, "years personal data is kept after the fiscal year ends (HUSKY_RETENTION_YEARS)")
	fs.StringVar(&r.auditKey, "audit-key", r.auditKey, "audit signing key file (HUSKY_AUDIT_KEY; default: beside the database)")
	fs.StringVar(&r.timeout, "delivery-timeout", r.timeout, "timeout of one delivery attempt (HUSKY_DELIVERY_TIMEOUT)")
	fs.StringVar(&r.workers, "delivery-workers", r.workers, "concurrent webhook requests (HUSKY_DELIVERY_WORKERS)")
	fs.StringVar(&r.disableAfter, "disable-after", r.disableAfter, "continuous failure after which an endpoint is disabled (HUSKY_DISABLE_AFTER)")
	fs.StringVar(&r.purgeDaily, "purge-daily", r.purgeDaily, "time of day (fiscal time zone) of the daily purge, or off (HUSKY_PURGE_DAILY)")
	fs.StringVar(&r.logFormat, "log-format", r.logFormat, "json or text (HUSKY_LOG_FORMAT)")
	fs.StringVar(&r.tlsCert, "tls-cert", r.tlsCert, "serve HTTPS with this certificate file, PEM (HUSKY_TLS_CERT)")
	fs.StringVar(&r.tlsKey, "tls-key", r.tlsKey, "the certificate's private key file, PEM (HUSKY_TLS_KEY)")
	fs.StringVar(&r.rateLimit, "rate-limit", r.rateLimit, "requests per second per API key, bursts of twice that, or off (HUSKY_RATE_LIMIT)")
	fs.StringVar(&r.pprofAddr, "pprof-addr", r.pprofAddr, "serve pprof on this loopback address (HUSKY_PPROF_ADDR)")
	fs.StringVar(&r.keyRotation, "key-rotation", r.keyRotation, "how often to rotate the master key, or off (HUSKY_KEY_ROTATION)")
	fs.StringVar(&r.trustedProxies, "trusted-proxies", r.trustedProxies,
		"reverse proxies (addresses or CIDR ranges, comma-separated) whose X-Forwarded-For and X-Forwarded-Proto are believed (HUSKY_TRUSTED_PROXIES)")
	fs.StringVar(&r.secureCookies, "secure-cookies", r.secureCookies,
		"mark the console's cookies Secure although TLS ends at a proxy: true or false (HUSKY_SECURE_COOKIES)")
	fs.StringVar(&r.erasureReminders, "erasure-reminders", r.erasureReminders,
		"delays after an unconfirmed erasure notice at which it is sent again, or off (HUSKY_ERASURE_REMINDERS)")
	fs.StringVar(&r.backupRetention, "backup-retention", r.backupRetention, "how long retired master keys are kept (HUSKY_BACKUP_RETENTION)")
}

// config validates the raw settings once, with messages a person can act on.
func (r rawConfig) config() (app.Config, error) {
	var errs []error
	c := app.Config{DB: r.db, Addr: r.addr, AuditKey: cmp.Or(r.auditKey, r.db+".audit-key"),
		Keyring: cmp.Or(r.keyring, r.db+".keys"), LogFormat: r.logFormat}
	if c.DB == "" {
		errs = append(errs, errors.New("HUSKY_DB: must name a database file or a postgres:// URL"))
	}
	c.RootKeyFile = r.rootKeyFile
	c.ControllerName, c.ControllerAddress = strings.TrimSpace(r.controllerName), strings.TrimSpace(r.controllerAddress)
	c.ControllerContact, c.DPOContact = strings.TrimSpace(r.controllerContact), strings.TrimSpace(r.dpoContact)
	if store.IsURL(c.DB) && c.RootKeyFile == "" {
		// Beside a server there is no file to put them next to, and every
		// instance must use the same two: the root key that seals them in
		// the database, or (as before it) the two files, set explicitly.
		if r.keyring == "" {
			errs = append(errs, errors.New("HUSKY_ROOT_KEY_FILE: must be set when HUSKY_DB is a PostgreSQL URL "+
				"(the same root key file on every instance; or HUSKY_KEYRING and HUSKY_AUDIT_KEY, one shared file each)"))
		} else if r.auditKey == "" {
			errs = append(errs, errors.New("HUSKY_AUDIT_KEY: must be set with HUSKY_KEYRING when HUSKY_DB is a PostgreSQL URL (the same key file for every instance)"))
		}
	}
	sched, err := sharing.ParseSchedule(r.retry)
	if err != nil {
		errs = append(errs, fmt.Errorf("HUSKY_RETRY_SCHEDULE: %w", err))
	}
	c.RetrySchedule = sched
	if n, err := strconv.Atoi(r.fyStart); err != nil || n < 1 || n > 12 {
		errs = append(errs, fmt.Errorf("HUSKY_FISCAL_YEAR_START: %q is not a month number from 1 to 12", r.fyStart))
	} else {
		c.FiscalYearStart = n
	}
	if loc, err := time.LoadLocation(r.fyTZ); err != nil {
		errs = append(errs, fmt.Errorf("HUSKY_FISCAL_TZ: %q is not an IANA time zone such as Europe/Copenhagen", r.fyTZ))
	} else {
		c.FiscalTZ = loc
	}
	if n, err := strconv.Atoi(r.retention); err != nil || n < 1 || n > 100 {
		errs = append(errs, fmt.Errorf("HUSKY_RETENTION_YEARS: %q is not a number of years from 1 to 100", r.retention))
	} else {
		c.RetentionYears = n
	}
	if n, err := strconv.Atoi(r.requestRetention); err != nil || n < 1 || n > 100 {
		errs = append(errs, fmt.Errorf("HUSKY_REQUEST_RETENTION_YEARS: %q is not a number of years from 1 to 100", r.requestRetention))
	} else {
		c.RequestRetentionYears = n
	}
	if b, err := strconv.ParseBool(r.allowPrivate); err != nil {
		errs = append(errs, fmt.Errorf("HUSKY_ALLOW_PRIVATE_ENDPOINTS: %q is not true or false", r.allowPrivate))
	} else {
		c.AllowPrivateEndpoints = b
	}
	if d, err := time.ParseDuration(r.timeout); err != nil || d <= 0 {
		errs = append(errs, fmt.Errorf("HUSKY_DELIVERY_TIMEOUT: %q is not a positive duration such as 15s", r.timeout))
	} else {
		c.DeliveryTimeout = d
	}
	if n, err := strconv.Atoi(r.workers); err != nil || n < 1 || n > 1024 {
		errs = append(errs, fmt.Errorf("HUSKY_DELIVERY_WORKERS: %q is not a number from 1 to 1024", r.workers))
	} else {
		c.DeliveryWorkers = n
	}
	if d, err := time.ParseDuration(r.disableAfter); err != nil || d <= 0 {
		errs = append(errs, fmt.Errorf("HUSKY_DISABLE_AFTER: %q is not a positive duration such as 120h", r.disableAfter))
	} else {
		c.DisableAfter = d
	}
	if r.purgeDaily == "off" {
		c.PurgeDaily = -1
	} else if t, err := time.Parse("15:04", r.purgeDaily); err != nil {
		errs = append(errs, fmt.Errorf("HUSKY_PURGE_DAILY: %q is not a time of day such as 02:00, or off", r.purgeDaily))
	} else {
		c.PurgeDaily = time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute
	}
	if c.LogFormat != "" && c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, fmt.Errorf("HUSKY_LOG_FORMAT: %q is not json or text", c.LogFormat))
	}
	c.TLSCert, c.TLSKey = r.tlsCert, r.tlsKey
	switch {
	case (c.TLSCert == "") != (c.TLSKey == ""):
		errs = append(errs, errors.New("HUSKY_TLS_CERT and HUSKY_TLS_KEY: set both to serve HTTPS, or neither"))
	case c.TLSCert != "":
		if _, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey); err != nil {
			errs = append(errs, fmt.Errorf("HUSKY_TLS_CERT, HUSKY_TLS_KEY: %v", err))
		}
	}
	if r.rateLimit != "off" {
		if n, err := strconv.ParseFloat(r.rateLimit, 64); err != nil || n <= 0 || n > 1e6 {
			errs = append(errs, fmt.Errorf("HUSKY_RATE_LIMIT: %q is not a number of requests per second such as 100, or off", r.rateLimit))
		} else {
			c.RateLimit = n
		}
	}
	if r.keyRotation != "off" {
		if d, err := time.ParseDuration(r.keyRotation); err != nil || d < time.Hour {
			errs = append(errs, fmt.Errorf("HUSKY_KEY_ROTATION: %q is not a duration of an hour or more such as 720h, or off", r.keyRotation))
		} else {
			c.KeyRotation = d
		}
	}
	for _, part := range strings.Split(r.trustedProxies, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			a, aerr := netip.ParseAddr(part)
			if aerr != nil {
				errs = append(errs, fmt.Errorf("HUSKY_TRUSTED_PROXIES: %q is not an address or a CIDR range such as 10.0.0.0/8", part))
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		c.TrustedProxies = append(c.TrustedProxies, p.Masked())
	}
	switch r.secureCookies {
	case "true":
		c.SecureCookies = true
	case "false":
	default:
		errs = append(errs, fmt.Errorf("HUSKY_SECURE_COOKIES: %q is not true or false", r.secureCookies))
	}
	if r.erasureReminders != "off" {
		if ds, err := parseReminders(r.erasureReminders); err != nil {
			errs = append(errs, fmt.Errorf("HUSKY_ERASURE_REMINDERS: %q %v", r.erasureReminders, err))
		} else {
			c.ErasureReminders = ds
		}
	}
	if d, err := time.ParseDuration(r.consoleIdle); err != nil || d < time.Minute {
		errs = append(errs, fmt.Errorf("HUSKY_CONSOLE_IDLE: %q is not a duration of a minute or more, such as 15m", r.consoleIdle))
	} else {
		c.ConsoleIdle = d
	}
	if d, err := time.ParseDuration(r.consoleLifetime); err != nil || d < c.ConsoleIdle {
		errs = append(errs, fmt.Errorf("HUSKY_CONSOLE_LIFETIME: %q is not a duration at least HUSKY_CONSOLE_IDLE, such as 8h", r.consoleLifetime))
	} else {
		c.ConsoleLifetime = d
	}
	if d, err := time.ParseDuration(r.backupRetention); err != nil || d < 0 {
		errs = append(errs, fmt.Errorf("HUSKY_BACKUP_RETENTION: %q is not a duration such as 840h", r.backupRetention))
	} else {
		c.BackupRetention = d
	}
	if r.pprofAddr != "" {
		if err := loopbackAddr(r.pprofAddr); err != nil {
			errs = append(errs, fmt.Errorf("HUSKY_PPROF_ADDR: %v", err))
		}
		c.PprofAddr = r.pprofAddr
	}
	return c, errors.Join(errs...)
}

// parseReminders reads increasing delays such as 168h,720h, each an hour
// or more.
func parseReminders(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, part := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d < time.Hour || (len(out) > 0 && d <= out[len(out)-1]) {
			return nil, errors.New("is not increasing delays of an hour or more such as 168h,720h, or off")
		}
		out = append(out, d)
	}
	return out, nil
}

// loopbackAddr accepts host:port where host is a loopback address or
// localhost: pprof exposes the process's memory and must not face a network.
func loopbackAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return fmt.Errorf("%q is not host:port such as 127.0.0.1:6060", addr)
	}
	if host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address such as 127.0.0.1:6060 or [::1]:6060", addr)
	}
	return nil
}
