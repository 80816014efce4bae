package tenant

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// TestPurgeWaitsForThePostgreSQLStorePurgeBeforeTheKeyring purges a tenant whose Integration keeps
// its mapping in PostgreSQL: the keyring stays until the Integration reports its store purged
// (the Integration controller's status.storePurge, played here), and the record then lists the
// rows destroyed instead of the database.
func TestPurgeWaitsForThePostgreSQLStorePurgeBeforeTheKeyring(t *testing.T) {
	ctx := context.Background()
	create(t, newTenant("lambda"))
	waitReady(t, "lambda")
	kr := testKeyring(t, 1)
	data, err := kr.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	keyringKey := client.ObjectKey{Namespace: "tenant-lambda", Name: "tenantwire-keyring"}
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: keyringKey.Namespace, Name: keyringKey.Name,
		Labels: map[string]string{"app.kubernetes.io/managed-by": "tenantwire"}}, Data: map[string][]byte{"keyring.json": data}})
	in := &twv1.Integration{ObjectMeta: metav1.ObjectMeta{Namespace: "tenant-lambda", Name: "cerbo-qb"}, Spec: twv1.IntegrationSpec{
		Source: twv1.Endpoint{System: twv1.SystemCerbo, URL: "https://acme.md-hq.com/api/v1",
			Credentials: twv1.Credentials{RemoteKey: "cerbo/api", Properties: []string{"username", "api_key"}}},
		Destination: twv1.Endpoint{System: twv1.SystemQuickBooks, URL: "https://quickbooks.api.intuit.com",
			Credentials: twv1.Credentials{RemoteKey: "quickbooks/oauth"}},
		State:  twv1.StateRunning,
		Egress: []twv1.EgressRule{{CIDR: "203.0.113.0/24"}},
		MappingStore: &twv1.MappingStore{Postgres: &twv1.PostgresMappingStore{
			DSN: "postgres://sync@db.acme.internal:5432/acme?sslmode=verify-full", Credentials: twv1.Credentials{RemoteKey: "db/mapping"}}},
	}}
	create(t, in)

	cur := &twv1.Tenant{}
	if err := get(t, client.ObjectKey{Name: "lambda"}, cur); err != nil {
		t.Fatal(err)
	}
	cur.Spec.State = twv1.TenantOffboarding
	cur.Annotations = map[string]string{twv1.PurgeImmediatelyAnnotation: "true"}
	if err := k8s.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	// The inventory is written and the purge waits: the keyring is still there.
	testenv.Eventually(t, timeout, func() error {
		if err := get(t, client.ObjectKey{Name: "lambda"}, cur); err != nil {
			return err
		}
		c := conditions.Get(cur.Status.Conditions, twv1.ConditionReady)
		if cur.Status.Purge == nil || c == nil || !strings.Contains(c.Message, "Waiting for the purge Jobs") {
			return fmt.Errorf("not waiting for the store purge: purge %+v, Ready %+v", cur.Status.Purge, c)
		}
		return nil
	})
	if err := get(t, keyringKey, &corev1.Secret{}); err != nil {
		t.Fatalf("the keyring went before the store was purged: %v", err)
	}

	live := &twv1.Integration{}
	if err := get(t, client.ObjectKeyFromObject(in), live); err != nil {
		t.Fatal(err)
	}
	rows := &twv1.PurgedRows{MappingRows: 1200, SavedTokens: 1, Cursors: 2, Deliveries: 0}
	live.Status.StorePurge = &twv1.IntegrationStorePurge{Phase: twv1.StorePurgeSucceeded, Deleted: rows}
	if err := k8s.Status().Update(ctx, live); err != nil {
		t.Fatal(err)
	}
	purged := waitOffboarding(t, "lambda", twv1.ReasonPurged)
	rec := purged.Status.Purge
	want := []twv1.PurgedStore{{Integration: "cerbo-qb", Location: "postgres://db.acme.internal:5432/acme", Deleted: rows}}
	if rec == nil || !equalJSON(t, rec.Stores, want) {
		t.Fatalf("purge record stores = %+v, want %+v", rec, want)
	}
	for _, r := range rec.Remaining {
		if r.Kind == twv1.PurgeRemainderPostgreSQLDatabase {
			t.Errorf("the purged database is still listed as remaining: %+v", r)
		}
	}
	if err := get(t, keyringKey, &corev1.Secret{}); err == nil {
		t.Error("the keyring survived the purge")
	}
}
