package manager

import (
	"reflect"
	"strings"
	"testing"
)

func TestSyncImagePullSecretsFlag(t *testing.T) {
	o, err := parseManagerFlags("--sync-image-pull-secrets", " registry-credentials, ,mirror.example")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"registry-credentials", "mirror.example"}; !reflect.DeepEqual(o.SyncImagePullSecrets, want) {
		t.Errorf("pull secrets = %q, want %q", o.SyncImagePullSecrets, want)
	}
	// A name no Secret can have stops the manager at start-up, naming it.
	if _, err := parseManagerFlags("--sync-image-pull-secrets", "ok,Registry_Creds"); err == nil || !strings.Contains(err.Error(), `"Registry_Creds" is not a Secret name`) {
		t.Errorf("error = %v, want one naming Registry_Creds", err)
	}
}
