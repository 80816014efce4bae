package tenant

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/hostpolicy"
	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/labels"
)

// purgeInventory is the purge record taken before anything is destroyed: a pure function of the
// Tenant, its keyring (nil when it is already gone or unreadable), its Integrations, the KeyPolicy
// governing its keys (nil when none) and the time. It holds names, paths, hosts and fingerprints
// only: never key material, a secret value or a DSN's user.
func purgeInventory(t *twv1.Tenant, kr *keyring.Keyring, integrations []twv1.Integration, policy *twv1.KeyPolicy, now metav1.Time) *twv1.TenantPurgeRecord {
	rec := &twv1.TenantPurgeRecord{
		StartedAt:  now,
		Controller: labels.FieldOwner(ControllerName),
		Namespace:  t.NamespaceName(),
	}
	if kr != nil {
		for i := range kr.Versions {
			v := &kr.Versions[i]
			rec.KeyringVersions = append(rec.KeyringVersions, twv1.PurgedKeyVersion{Version: v.Version, Fingerprint: v.Fingerprint()})
		}
		slices.SortFunc(rec.KeyringVersions, func(a, b twv1.PurgedKeyVersion) int { return int(a.Version - b.Version) })
	}
	if t.Spec.Export != nil {
		rec.ExportClaim = t.Spec.Export.ClaimName
	}
	if policy != nil && policy.Spec.Source.Type == twv1.KeySourceExternal && policy.Spec.Source.External != nil {
		ext := policy.Spec.Source.External
		rec.Remaining = append(rec.Remaining, twv1.PurgeRemainder{Kind: twv1.PurgeRemainderVaultKey,
			Location: storeLocation(string(ext.StoreRef.Kind), ext.StoreRef.Name, strings.ReplaceAll(ext.RemoteKeyTemplate, "{tenant}", t.Name))})
	}
	ins := slices.Clone(integrations)
	slices.SortFunc(ins, func(a, b twv1.Integration) int { return strings.Compare(a.Name, b.Name) })
	for i := range ins {
		in := &ins[i]
		rec.Integrations = append(rec.Integrations, in.Name)
		creds := []twv1.Credentials{in.Spec.Source.Credentials, in.Spec.Destination.Credentials}
		if ms := in.Spec.MappingStore; ms != nil && ms.Postgres != nil {
			creds = append(creds, ms.Postgres.Credentials)
			rec.Remaining = append(rec.Remaining, twv1.PurgeRemainder{Kind: twv1.PurgeRemainderPostgreSQLDatabase,
				Location: postgresLocation(ms.Postgres.DSN), Integration: in.Name})
		}
		if s := t.Spec.SecretStore; s != nil {
			for _, c := range creds {
				rec.Remaining = append(rec.Remaining, twv1.PurgeRemainder{Kind: twv1.PurgeRemainderVaultCredentials,
					Location: storeLocation(string(s.Kind), s.Name, path.Join(s.PathPrefix, c.RemoteKey)), Integration: in.Name})
			}
		}
		if s := t.Spec.SecretStore; s != nil {
			// The rotated tokens the PushSecret wrote back live at the same paths, as refresh_token.
			for _, ep := range []twv1.Endpoint{in.Spec.Source, in.Spec.Destination} {
				if ep.System.RotatesRefreshTokens() {
					rec.Remaining = append(rec.Remaining, twv1.PurgeRemainder{Kind: twv1.PurgeRemainderPushedRefreshToken,
						Location:    storeLocation(string(s.Kind), s.Name, path.Join(s.PathPrefix, ep.Credentials.RemoteKey)) + " (property refresh_token)",
						Integration: in.Name})
				}
			}
		}
	}
	return rec
}

// storeLocation names a vault path by the External Secrets Operator store that reaches it.
func storeLocation(kind, name, key string) string {
	if kind == "" {
		kind = string(twv1.ClusterSecretStoreKind)
	}
	return fmt.Sprintf("%s/%s: %s", kind, name, key)
}

// postgresLocation is the host, port and database of a DSN: the user and the parameters are left
// out (the CRD refuses a password in it, and none is needed to find the database).
func postgresLocation(dsn string) string {
	host, port, err := hostpolicy.PostgresTarget(dsn)
	if err != nil {
		return "unparsable DSN (" + err.Error() + ")"
	}
	db := ""
	if u, err := url.Parse(dsn); err == nil {
		db = strings.TrimPrefix(u.Path, "/")
	}
	return "postgres://" + net.JoinHostPort(host, strconv.Itoa(port)) + "/" + db
}

// remainingMessage lists what a purge left for the vendor to destroy by hand.
func remainingMessage(rec *twv1.TenantPurgeRecord) string {
	items := make([]string, 0, len(rec.Remaining))
	for _, r := range rec.Remaining {
		item := string(r.Kind) + " " + r.Location
		if r.Integration != "" {
			item += " (Integration " + r.Integration + ")"
		}
		if r.Reason != "" {
			item += ": " + r.Reason
		}
		items = append(items, item)
	}
	return "The operator cannot destroy these copies; destroy them by hand: " + strings.Join(items, "; ")
}

// destroyedKeysMessage names the destroyed keyring versions by number and fingerprint.
func destroyedKeysMessage(rec *twv1.TenantPurgeRecord) string {
	if len(rec.KeyringVersions) == 0 {
		return "no keyring was left to destroy"
	}
	vs := make([]string, 0, len(rec.KeyringVersions))
	for _, v := range rec.KeyringVersions {
		vs = append(vs, fmt.Sprintf("%d (%s)", v.Version, v.Fingerprint))
	}
	return "keyring versions " + strings.Join(vs, ", ") + " destroyed"
}

// storePurgeTimeout bounds the wait for the Integrations' store purge Jobs (each bounded at ten
// minutes, retries included): past it, the keyring is destroyed all the same.
const storePurgeTimeout = 15 * time.Minute

// cryptoShreddedNote ends the reason of a PostgreSQL store the operator could not purge.
const cryptoShreddedNote = "; its rows stay, sealed with the destroyed keyring (crypto-shredded), and the database must be cleared by hand"

// applyStorePurges is a pure function of the purge record, the tenant's Integrations (their
// status.storePurge is the Integration controller's report) and the time: it moves each
// PostgreSQL store whose purge Job succeeded from Remaining to Stores with its counts, gives a
// reason to each one that failed, and names the Integrations still being waited for.
func applyStorePurges(rec *twv1.TenantPurgeRecord, integrations []twv1.Integration, now time.Time) (*twv1.TenantPurgeRecord, []string) {
	out := rec.DeepCopy()
	out.Remaining = nil
	var waiting []string
	for _, r := range rec.Remaining {
		if r.Kind != twv1.PurgeRemainderPostgreSQLDatabase || r.Reason != "" {
			out.Remaining = append(out.Remaining, r)
			continue
		}
		var in *twv1.Integration
		for i := range integrations {
			if integrations[i].Name == r.Integration {
				in = &integrations[i]
			}
		}
		var sp *twv1.IntegrationStorePurge
		if in != nil {
			sp = in.Status.StorePurge
		}
		switch {
		case in == nil:
			r.Reason = "the Integration was deleted before its store was purged" + cryptoShreddedNote
		case sp != nil && sp.Phase == twv1.StorePurgeSucceeded:
			out.Stores = append(out.Stores, twv1.PurgedStore{Integration: r.Integration, Location: r.Location, Deleted: sp.Deleted.DeepCopy()})
			continue
		case sp != nil && sp.Phase == twv1.StorePurgeFailed:
			r.Reason = sp.Message + cryptoShreddedNote
		case now.Sub(rec.StartedAt.Time) >= storePurgeTimeout:
			r.Reason = fmt.Sprintf("no outcome of the store purge Job within %s", storePurgeTimeout) + cryptoShreddedNote
		default:
			waiting = append(waiting, r.Integration)
		}
		out.Remaining = append(out.Remaining, r)
	}
	return out, waiting
}
