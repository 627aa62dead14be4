package app

import (
	"fmt"

	"github.com/milestone/husky/subjects"
)

// processingSetup is what the record of processing states from cfg: the
// controller and its contacts, and the measures whose truth depends on
// the configuration (transport encryption, where the keys are, rotation).
func processingSetup(cfg Config) subjects.Setup {
	s := subjects.Setup{Demo: cfg.Demo, Controller: subjects.Controller{Name: cfg.ControllerName, Address: cfg.ControllerAddress,
		Contact: cfg.ControllerContact, DPO: cfg.DPOContact}}
	switch {
	case cfg.TLSCert != "":
		s.Measures = append(s.Measures, "Transport: HTTPS served by the service itself (TLS 1.2 or later, AEAD cipher suites only).")
	case len(cfg.TrustedProxies) > 0 || cfg.SecureCookies:
		s.Measures = append(s.Measures, "Transport: configured to sit behind a reverse proxy that ends HTTPS (HUSKY_TRUSTED_PROXIES or HUSKY_SECURE_COOKIES); the service itself listens in plain HTTP behind it, and the proxy's TLS is the operator's to keep.")
	default:
		s.Measures = append(s.Measures, "Transport: NOT ENCRYPTED by the service — it serves plain HTTP and no TLS proxy is configured (set HUSKY_TLS_CERT or HUSKY_TRUSTED_PROXIES).")
	}
	keys := "Master keys kept in an owner-only keyring file apart from the database."
	if cfg.RootKeyFile != "" {
		keys = "Master keys and the audit signing key kept in the database, sealed by a root key held in an owner-only file on each machine; the root key is rotated and its old versions destroyed after the backup retention."
	}
	if cfg.KeyRotation > 0 {
		keys += fmt.Sprintf(" The master key is rotated every %s;", cfg.KeyRotation)
	} else {
		keys += " Automatic master key rotation is off;"
	}
	keys += fmt.Sprintf(" retired versions are destroyed %s after retirement, the longest backups are kept.", cfg.BackupRetention)
	return subjects.Setup{Demo: s.Demo, Controller: s.Controller, Measures: append(s.Measures, keys)}
}

// breachController is who notifies a breach, as configured: the default
// controller's name and address where none is set, the contacts only as
// configured (the notification says when the DPO's is missing).
func breachController(cfg Config) subjects.Controller {
	c := processingSetup(cfg).Controller
	if c.Name == "" {
		c.Name, c.Address = subjects.DefaultController.Name, subjects.DefaultController.Address
	}
	return c
}
