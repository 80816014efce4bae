package tenant

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/lifecycle"
)

func testKeyring(t *testing.T, versions int) *keyring.Keyring {
	t.Helper()
	var kr *keyring.Keyring
	for range versions {
		m, err := keyring.NewMaterial(nil)
		if err != nil {
			t.Fatal(err)
		}
		kr = keyring.AddVersion(kr, "AES-256-GCM", m, time.Now())
	}
	return kr
}

func purgeIntegration(name, dsn string) twv1.Integration {
	in := twv1.Integration{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "tenant-acme"}}
	in.Spec.Source.Credentials.RemoteKey = name + "/source"
	in.Spec.Destination.Credentials.RemoteKey = name + "/destination"
	if dsn != "" {
		in.Spec.MappingStore = &twv1.MappingStore{Postgres: &twv1.PostgresMappingStore{DSN: dsn,
			Credentials: twv1.Credentials{RemoteKey: name + "/db"}}}
	}
	return in
}

func withSystems(in twv1.Integration, source, destination twv1.System) twv1.Integration {
	in.Spec.Source.System, in.Spec.Destination.System = source, destination
	return in
}

func TestPurgeInventory(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))
	kr := testKeyring(t, 2)
	external := &twv1.KeyPolicy{Spec: twv1.KeyPolicySpec{Source: twv1.KeySource{Type: twv1.KeySourceExternal,
		External: &twv1.ExternalKeySource{StoreRef: twv1.KeyStoreRef{Kind: twv1.ClusterSecretStoreKind, Name: "keys"},
			RemoteKeyTemplate: "tenants/{tenant}/id-key"}}}}
	withStore := sampleTenant(func(tn *twv1.Tenant) {
		tn.Spec.SecretStore = &twv1.TenantSecretStore{Kind: twv1.ClusterSecretStoreKind, Name: "tenant-vault", PathPrefix: "tenants/acme/"}
		tn.Spec.Export = &twv1.TenantExport{Request: "t-1", ClaimName: "offboarding-export"}
	})
	tests := map[string]struct {
		tenant        *twv1.Tenant
		keyring       *keyring.Keyring
		integrations  []twv1.Integration
		policy        *twv1.KeyPolicy
		wantVersions  int
		wantRemaining []twv1.PurgeRemainder
		wantExport    string
	}{
		"generated keys, no secret store: nothing remains": {
			tenant: sampleTenant(), keyring: kr, integrations: []twv1.Integration{purgeIntegration("a", "")},
			policy: &twv1.KeyPolicy{}, wantVersions: 2,
		},
		"keyring already gone": {tenant: sampleTenant()},
		"vault credentials, an external key and a PostgreSQL database remain": {
			tenant: withStore, keyring: kr, policy: external, wantVersions: 2, wantExport: "offboarding-export",
			integrations: []twv1.Integration{
				purgeIntegration("zoho", ""),
				purgeIntegration("cerbo-to-quickbooks", "postgres://sync@db.example.internal:5433/acme_map?sslmode=verify-full"),
			},
			wantRemaining: []twv1.PurgeRemainder{
				{Kind: twv1.PurgeRemainderVaultKey, Location: "ClusterSecretStore/keys: tenants/acme/id-key"},
				{Kind: twv1.PurgeRemainderPostgreSQLDatabase, Location: "postgres://db.example.internal:5433/acme_map", Integration: "cerbo-to-quickbooks"},
				{Kind: twv1.PurgeRemainderVaultCredentials, Location: "ClusterSecretStore/tenant-vault: tenants/acme/cerbo-to-quickbooks/source", Integration: "cerbo-to-quickbooks"},
				{Kind: twv1.PurgeRemainderVaultCredentials, Location: "ClusterSecretStore/tenant-vault: tenants/acme/cerbo-to-quickbooks/destination", Integration: "cerbo-to-quickbooks"},
				{Kind: twv1.PurgeRemainderVaultCredentials, Location: "ClusterSecretStore/tenant-vault: tenants/acme/cerbo-to-quickbooks/db", Integration: "cerbo-to-quickbooks"},
				{Kind: twv1.PurgeRemainderVaultCredentials, Location: "ClusterSecretStore/tenant-vault: tenants/acme/zoho/source", Integration: "zoho"},
				{Kind: twv1.PurgeRemainderVaultCredentials, Location: "ClusterSecretStore/tenant-vault: tenants/acme/zoho/destination", Integration: "zoho"},
			},
		},
		"rotated refresh tokens pushed back to the vault remain": {
			tenant: withStore, keyring: kr, policy: &twv1.KeyPolicy{}, wantVersions: 2, wantExport: "offboarding-export",
			integrations: []twv1.Integration{withSystems(purgeIntegration("qb-to-ghl", ""), twv1.SystemQuickBooks, twv1.SystemGoHighLevel),
				withSystems(purgeIntegration("cerbo-to-zoho", ""), twv1.SystemCerbo, twv1.SystemZoho)},
			wantRemaining: []twv1.PurgeRemainder{
				{Kind: twv1.PurgeRemainderVaultCredentials, Location: "ClusterSecretStore/tenant-vault: tenants/acme/cerbo-to-zoho/source", Integration: "cerbo-to-zoho"},
				{Kind: twv1.PurgeRemainderVaultCredentials, Location: "ClusterSecretStore/tenant-vault: tenants/acme/cerbo-to-zoho/destination", Integration: "cerbo-to-zoho"},
				{Kind: twv1.PurgeRemainderVaultCredentials, Location: "ClusterSecretStore/tenant-vault: tenants/acme/qb-to-ghl/source", Integration: "qb-to-ghl"},
				{Kind: twv1.PurgeRemainderVaultCredentials, Location: "ClusterSecretStore/tenant-vault: tenants/acme/qb-to-ghl/destination", Integration: "qb-to-ghl"},
				{Kind: twv1.PurgeRemainderPushedRefreshToken, Location: "ClusterSecretStore/tenant-vault: tenants/acme/qb-to-ghl/source (property refresh_token)", Integration: "qb-to-ghl"},
				{Kind: twv1.PurgeRemainderPushedRefreshToken, Location: "ClusterSecretStore/tenant-vault: tenants/acme/qb-to-ghl/destination (property refresh_token)", Integration: "qb-to-ghl"},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rec := purgeInventory(tc.tenant, tc.keyring, tc.integrations, tc.policy, now)
			if rec.Namespace != "tenant-acme" || rec.Controller != "tenantwire-tenant" || !rec.StartedAt.Equal(&now) || rec.CompletedAt != nil {
				t.Errorf("record header = %+v", rec)
			}
			if len(rec.KeyringVersions) != tc.wantVersions {
				t.Fatalf("keyring versions = %+v, want %d", rec.KeyringVersions, tc.wantVersions)
			}
			for i, v := range rec.KeyringVersions {
				if want := tc.keyring.Versions[i]; v.Version != want.Version || v.Fingerprint != want.Fingerprint() {
					t.Errorf("version %d = %+v, want %d (%s)", i, v, want.Version, want.Fingerprint())
				}
			}
			if len(rec.Integrations) != len(tc.integrations) {
				t.Errorf("integrations = %v", rec.Integrations)
			}
			if !reflect.DeepEqual(rec.Remaining, tc.wantRemaining) {
				t.Errorf("remaining =\n%+v\nwant\n%+v", rec.Remaining, tc.wantRemaining)
			}
			if rec.ExportClaim != tc.wantExport {
				t.Errorf("export claim = %q, want %q", rec.ExportClaim, tc.wantExport)
			}
		})
	}
}

// The record is shown to auditors and written to the API server's audit log: no key material
// in any encoding, no DSN user or parameters.
func TestPurgeRecordHoldsNoKeyMaterialOrDSNUser(t *testing.T) {
	kr := testKeyring(t, 3)
	tn := sampleTenant(func(tn *twv1.Tenant) {
		tn.Spec.SecretStore = &twv1.TenantSecretStore{Kind: twv1.ClusterSecretStoreKind, Name: "v", PathPrefix: "tenants/acme"}
	})
	rec := purgeInventory(tn, kr, []twv1.Integration{purgeIntegration("a", "postgres://syncuser@db.example:5432/acme?sslmode=verify-full&application_name=x")},
		nil, metav1.Now())
	st := computeStatus(tn, observation{purge: rec}, lifecycle.Decision{State: twv1.TenantOffboarding, Purged: true}, metav1.Now())
	out, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range kr.Versions {
		for _, key := range [][]byte{v.EncryptionKey, v.HMACKey} {
			for _, enc := range []string{base64.StdEncoding.EncodeToString(key), base64.RawURLEncoding.EncodeToString(key), hex.EncodeToString(key)} {
				if bytes.Contains(out, []byte(enc)) {
					t.Fatalf("status holds key material of version %d", v.Version)
				}
			}
		}
	}
	for _, leak := range []string{"syncuser", "sslmode", "application_name"} {
		if strings.Contains(string(out), leak) {
			t.Errorf("status holds %q of the DSN: %s", leak, out)
		}
	}
}

func TestComputeStatusReportsWhatThePurgeLeft(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))
	left := &twv1.TenantPurgeRecord{Namespace: "tenant-acme", Remaining: []twv1.PurgeRemainder{
		{Kind: twv1.PurgeRemainderVaultKey, Location: "ClusterSecretStore/keys: tenants/acme/id-key"}}}
	purged := lifecycle.Decision{State: twv1.TenantOffboarding, Purged: true}
	tests := map[string]struct {
		tenant      *twv1.Tenant
		obs         observation
		lc          lifecycle.Decision
		wantPurge   bool
		wantManual  bool
		wantMessage string
	}{
		"purged with copies left": {tenant: sampleTenant(), obs: observation{purge: left}, lc: purged, wantPurge: true, wantManual: true,
			wantMessage: "VaultKey ClusterSecretStore/keys: tenants/acme/id-key"},
		"purged with nothing left": {tenant: sampleTenant(), obs: observation{purge: &twv1.TenantPurgeRecord{Namespace: "tenant-acme"}}, lc: purged, wantPurge: true},
		"the record stays on later reconciles": {tenant: sampleTenant(func(tn *twv1.Tenant) { tn.Status.Purge = left }), lc: purged,
			wantPurge: true, wantManual: true},
		"an offboarding cancelled before the purge drops its inventory": {tenant: sampleTenant(func(tn *twv1.Tenant) { tn.Status.Purge = left }),
			lc: lifecycle.Decision{State: twv1.TenantActive}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st := computeStatus(tc.tenant, tc.obs, tc.lc, now)
			if (st.Purge != nil) != tc.wantPurge {
				t.Errorf("status.purge = %+v, want present %v", st.Purge, tc.wantPurge)
			}
			c := conditions.Get(st.Conditions, twv1.TenantConditionManualPurgeRequired)
			if (c != nil) != tc.wantManual {
				t.Fatalf("ManualPurgeRequired = %+v, want present %v", c, tc.wantManual)
			}
			if c != nil && (c.Status != metav1.ConditionTrue || c.Reason != twv1.ReasonExternalCopiesRemain || !strings.Contains(c.Message, tc.wantMessage)) {
				t.Errorf("ManualPurgeRequired = %+v", c)
			}
		})
	}
}

func TestApplyStorePurges(t *testing.T) {
	started := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	pg := func(in string) twv1.PurgeRemainder {
		return twv1.PurgeRemainder{Kind: twv1.PurgeRemainderPostgreSQLDatabase, Location: "postgres://db:5432/" + in, Integration: in}
	}
	vault := twv1.PurgeRemainder{Kind: twv1.PurgeRemainderVaultCredentials, Location: "ClusterSecretStore/v: a", Integration: "a"}
	rec := &twv1.TenantPurgeRecord{StartedAt: metav1.NewTime(started), Remaining: []twv1.PurgeRemainder{vault, pg("a"), pg("b")}}
	reporting := func(name string, sp *twv1.IntegrationStorePurge) twv1.Integration {
		in := purgeIntegration(name, "postgres://db:5432/"+name)
		in.Status.StorePurge = sp
		return in
	}
	rows := &twv1.PurgedRows{MappingRows: 7, SavedTokens: 1, Cursors: 2, Deliveries: 3}
	succeeded := &twv1.IntegrationStorePurge{Phase: twv1.StorePurgeSucceeded, Deleted: rows}
	tests := map[string]struct {
		integrations  []twv1.Integration
		after         time.Duration
		wantWaiting   []string
		wantStores    []string
		wantReasonFor map[string]string
	}{
		"not reported yet: both waited for": {
			integrations: []twv1.Integration{reporting("a", nil), reporting("b", &twv1.IntegrationStorePurge{Phase: twv1.StorePurgeRunning})},
			wantWaiting:  []string{"a", "b"},
		},
		"one succeeded, one running": {
			integrations: []twv1.Integration{reporting("a", succeeded), reporting("b", nil)},
			wantWaiting:  []string{"b"}, wantStores: []string{"a"},
		},
		"one failed after its retries: listed with the reason, not waited for": {
			integrations:  []twv1.Integration{reporting("a", succeeded), reporting("b", &twv1.IntegrationStorePurge{Phase: twv1.StorePurgeFailed, Message: "purge Job b-store-purge failed (BackoffLimitExceeded): x"})},
			wantStores:    []string{"a"},
			wantReasonFor: map[string]string{"b": "BackoffLimitExceeded"},
		},
		"no outcome within the bound: the keyring goes all the same": {
			integrations: []twv1.Integration{reporting("a", nil), reporting("b", nil)}, after: storePurgeTimeout,
			wantReasonFor: map[string]string{"a": "no outcome", "b": "no outcome"},
		},
		"an Integration deleted before its purge": {
			integrations:  []twv1.Integration{reporting("a", succeeded)},
			wantStores:    []string{"a"},
			wantReasonFor: map[string]string{"b": "deleted"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, waiting := applyStorePurges(rec, tc.integrations, started.Add(tc.after))
			if !reflect.DeepEqual(waiting, tc.wantWaiting) {
				t.Errorf("waiting for %v, want %v", waiting, tc.wantWaiting)
			}
			var stores []string
			for _, s := range got.Stores {
				stores = append(stores, s.Integration)
				if !reflect.DeepEqual(s.Deleted, rows) || s.Location != "postgres://db:5432/"+s.Integration {
					t.Errorf("store %s recorded as %+v", s.Integration, s)
				}
			}
			if !reflect.DeepEqual(stores, tc.wantStores) {
				t.Errorf("stores %v, want %v", stores, tc.wantStores)
			}
			if got.Remaining[0] != vault {
				t.Errorf("the vault remainder changed: %+v", got.Remaining[0])
			}
			for _, r := range got.Remaining[1:] {
				if slices.Contains(stores, r.Integration) {
					t.Errorf("purged store %s is still listed as remaining", r.Integration)
				}
				want, failed := tc.wantReasonFor[r.Integration]
				switch {
				case failed && (!strings.Contains(r.Reason, want) || !strings.Contains(r.Reason, "crypto-shredded")):
					t.Errorf("remainder %s reason %q, want one naming %q and the crypto-shredding", r.Integration, r.Reason, want)
				case !failed && r.Reason != "":
					t.Errorf("remainder %s has reason %q while it is waited for", r.Integration, r.Reason)
				}
			}
			if len(rec.Stores) != 0 || rec.Remaining[1].Reason != "" {
				t.Error("the input record was changed")
			}
		})
	}
}
