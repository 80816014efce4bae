package integration

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

func TestTemplateCredentials(t *testing.T) {
	cases := map[string]struct {
		template, recorded, current string
		exists                      bool
		want                        string
		rolls                       bool
	}{
		"a new Deployment starts on what it finds":              {current: "c", want: ""},
		"a new Deployment after an earlier one ran on other":    {recorded: "old", current: "c", want: ""},
		"the first sync of pods that waited for it":             {current: "c", exists: true, want: ""},
		"pods that started on the current credentials":          {recorded: "c", current: "c", exists: true, want: ""},
		"a rotation under pods that started on what they found": {recorded: "a", current: "c", exists: true, want: "c", rolls: true},
		"pods rolled to the current credentials":                {template: "c", recorded: "c", current: "c", exists: true, want: "c"},
		"a rotation under pods a rotation rolled":               {template: "b", recorded: "b", current: "c", exists: true, want: "c", rolls: true},
		"the template wins over an older record":                {template: "c", recorded: "b", current: "c", exists: true, want: "c"},
		"a refresh that changed nothing":                        {template: "b", current: "b", exists: true, want: "b"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, rolls := templateCredentials(tc.template, tc.recorded, tc.current, tc.exists)
			if got != tc.want || rolls != tc.rolls {
				t.Errorf("templateCredentials(%q, %q, %q, %v) = %q, %v; want %q, %v", tc.template, tc.recorded, tc.current, tc.exists,
					got, rolls, tc.want, tc.rolls)
			}
		})
	}
}

func TestAwaitsCredentials(t *testing.T) {
	cases := map[string]struct {
		synced             bool
		template, recorded string
		exists             bool
		want               bool
	}{
		"no Deployment, nothing synced":                    {want: true},
		"no Deployment, nothing synced, an earlier record": {recorded: "a", want: true},
		"a Deployment whose pods never had credentials":    {exists: true, want: true},
		"synced": {synced: true, exists: true},
		"the credentials of pods that ran on them are gone":   {recorded: "a", exists: true},
		"the credentials of pods a rotation rolled are gone":  {template: "b", exists: true},
		"synced before the Deployment exists (it is created)": {synced: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := awaitsCredentials(tc.synced, tc.template, tc.recorded, tc.exists); got != tc.want {
				t.Errorf("awaitsCredentials = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestRollSurvivesAStaleCache: right after a roll, the cache may still hold the Deployment as it
// was, with no digest on its template (pods that started on what they found). Read as it is, with
// the new digest recorded, the next reconcile would decide on the empty template and apply it:
// the pods would roll back. The generation of this process's own write tells the stale copy.
func TestRollSurvivesAStaleCache(t *testing.T) {
	r := (&Reconciler{}).complete()
	key := client.ObjectKey{Namespace: "tenant-a", Name: "sync"}
	in := &twv1.Integration{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	deployment := func(uid string, generation int64, digest string) *appsv1.Deployment {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{UID: types.UID("u-" + uid), Generation: generation}}
		if digest != "" {
			d.Spec.Template = corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{CredentialsHashAnnotation: digest}}}
		}
		return d
	}
	// The roll this process applied: generation 2 of Deployment 1 carries "c"; the pods run on "c".
	r.rolledTemplates.Store(key, rolledTemplate{uid: "u-1", generation: 2, digest: "c"})
	r.runningCredentials.Store(key, "c")

	cases := map[string]struct {
		live *appsv1.Deployment
		want string
	}{
		"the cache before the roll":             {live: deployment("1", 1, ""), want: "c"},
		"the cache after the roll":              {live: deployment("1", 2, "c"), want: "c"},
		"a later change by someone else":        {live: deployment("1", 3, "x"), want: "x"},
		"a Deployment created again":            {live: deployment("2", 1, ""), want: ""},
		"no Deployment":                         {live: nil, want: ""},
		"the cache before a roll from a digest": {live: deployment("1", 1, "a"), want: "c"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := r.liveTemplateCredentials(key, tc.live); got != tc.want {
				t.Errorf("liveTemplateCredentials = %q, want %q", got, tc.want)
			}
		})
	}

	// The decision on the stale copy keeps the rolled digest: no second roll, and none back.
	template := r.liveTemplateCredentials(key, deployment("1", 1, ""))
	if got, rolls := templateCredentials(template, r.recordedCredentials(key, in), "c", true); got != "c" || rolls {
		t.Errorf("on the cache before the roll: template %q, rolls %v; want \"c\", false", got, rolls)
	}
}

// TestRecordedCredentialsFallsBackToTheStatus: a new process (an operator restart) knows what the
// pods run on from status.credentialsHash alone, so the next rotation still rolls them.
func TestRecordedCredentialsFallsBackToTheStatus(t *testing.T) {
	r := (&Reconciler{}).complete()
	in := &twv1.Integration{ObjectMeta: metav1.ObjectMeta{Namespace: "tenant-a", Name: "sync"},
		Status: twv1.IntegrationStatus{CredentialsHash: "a"}}
	key := client.ObjectKeyFromObject(in)
	if got := r.recordedCredentials(key, in); got != "a" {
		t.Fatalf("after a restart: recorded %q, want the status's \"a\"", got)
	}
	if got, rolls := templateCredentials("", r.recordedCredentials(key, in), "c", true); got != "c" || !rolls {
		t.Errorf("a rotation after a restart: template %q, rolls %v; want \"c\", true", got, rolls)
	}
	// A status the cache has not caught up with yet: this process's own record counts.
	r.runningCredentials.Store(key, "c")
	if got := r.recordedCredentials(key, in); got != "c" {
		t.Errorf("with a stale status: recorded %q, want this process's \"c\"", got)
	}
}
