package exportarchive

import (
	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

// Refusal says why an export request cannot run, or "" when it can: it is neither sealed to
// recipients nor deliberately in clear, or a recipient is not an age public key. The CRD refuses
// the first at admission; a Tenant stored before it did, or a recipient whose checksum is wrong
// (which CEL cannot check), is refused here, by both controllers alike.
func Refusal(e *twv1.TenantExport) string {
	switch e.Encryption() {
	case twv1.ExportEncryptionNone:
		return ""
	case twv1.ExportEncryptionAge:
		rs := make([]string, len(e.Recipients))
		for i, r := range e.Recipients {
			rs[i] = string(r)
		}
		if _, err := ParseRecipients(rs); err != nil {
			return "Export refused: " + err.Error()
		}
		return ""
	case "":
		if e.Plaintext {
			return "Export refused: spec.export.plaintext: true and spec.export.recipients exclude each other; remove one"
		}
	}
	return "Export refused: spec.export.recipients names no age public key and spec.export.plaintext is not true; " +
		"seal the export to the practice's key (age-keygen prints it) or set plaintext: true deliberately"
}
