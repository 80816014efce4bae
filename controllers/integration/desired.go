package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"path"
	"slices"
	"strings"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/hostpolicy"
	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/labels"
	"github.com/tenantwire/tenantwire/internal/syncconfig"
)

// Annotations on the pod template. A change of either rolls the pods; nothing else does.
const (
	CredentialsHashAnnotation = "tenantwire.io/credentials-hash"
	ConfigHashAnnotation      = "tenantwire.io/config-hash"
	KeyringVersionAnnotation  = "tenantwire.io/keyring-version"
)

// Ports of the sync container.
const (
	HealthPort  = 8081
	MetricsPort = 9090
	WebhookPort = 8443
)

// Defaults applied when an Integration leaves a field empty; documented on the API fields.
const (
	DefaultRefreshInterval = time.Hour
	DefaultScheduleEvery   = 5 * time.Minute
	DefaultEgressPort      = 443
)

var defaultResources = corev1.ResourceRequirements{
	Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
	Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
}

// side names one end of an Integration; it prefixes that end's children and mount paths.
type side string

const (
	sourceSide      side = "source"
	destinationSide side = "destination"
	// storeSide is the mapping store's database password, present with a postgres mappingStore.
	storeSide side = "store"
)

// vendorSides are the systems' credentials, which leave the cluster when the tenant offboards.
var vendorSides = []side{sourceSide, destinationSide}

// credentialSides lists every credentials Secret the Integration's pods mount.
func credentialSides(in *twv1.Integration) []side {
	if postgresStore(in) != nil {
		return []side{sourceSide, destinationSide, storeSide}
	}
	return vendorSides
}

func endpointOf(in *twv1.Integration, s side) twv1.Endpoint {
	if s == sourceSide {
		return in.Spec.Source
	}
	return in.Spec.Destination
}

// credentialsOf is where one side's credentials are in the vault.
func credentialsOf(in *twv1.Integration, s side) twv1.Credentials {
	if s == storeSide {
		return postgresStore(in).Credentials
	}
	return endpointOf(in, s).Credentials
}

func postgresStore(in *twv1.Integration) *twv1.PostgresMappingStore {
	if in.Spec.MappingStore == nil {
		return nil
	}
	return in.Spec.MappingStore.Postgres
}

// storePasswordFile is the database password's file in the pods.
const storePasswordFile = "password"

// Child names, derived from the Integration name (at most 40 characters, so every name fits).
func credentialsName(in *twv1.Integration, s side) string {
	return in.Name + "-" + string(s) + "-credentials"
}
func syncName(in *twv1.Integration) string         { return in.Name + "-sync" }
func configName(in *twv1.Integration) string       { return in.Name + "-sync-config" }
func readerRoleName(in *twv1.Integration) string   { return in.Name + "-credentials-reader" }
func egressPolicyName(in *twv1.Integration) string { return in.Name + "-egress" }

// inputs is everything the builders need besides the Integration itself.
type inputs struct {
	tenant    *twv1.Tenant
	syncImage string
	// pullSecrets name the image pull Secrets of every pod that runs the sync runtime.
	pullSecrets []string
	// credentialsHash is the digest of the synced credential Secrets; empty until both exist.
	credentialsHash string
	// tenantSuspended scales the workload to zero while the tenant is Suspended.
	tenantSuspended bool
	// awaitingApproval scales the workload to zero while its flow has no honoured approval.
	awaitingApproval bool
	// keyringVersion is the active version of the tenant's keyring when this Integration is one of
	// its consumers, empty otherwise (no keyring is mounted then).
	keyringVersion string
	// hosts is the platform's allowlist, rendered into sync.yaml for the runtime to enforce; the
	// zero value renders none, and the runtime then dials nothing.
	hosts hostpolicy.Policy
	// operator is admitted to the sync pods' health port to read the cycle summary.
	operator OperatorPeer
	// apiServer is where a token writer reaches the API server (--api-server-egress).
	apiServer []APIServerEndpoint
}

func ownerRef(in *twv1.Integration) []metav1.OwnerReference {
	return []metav1.OwnerReference{*metav1.NewControllerRef(in, twv1.GroupVersion.WithKind("Integration"))}
}

func childMeta(in *twv1.Integration, tenant, name, component string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:            name,
		Namespace:       in.Namespace,
		Labels:          labels.ForIntegration(tenant, in.Name, component),
		OwnerReferences: ownerRef(in),
	}
}

// podSelector selects exactly this Integration's sync pods; it is immutable once the Deployment
// exists, so it uses only labels that never change.
func podSelector(in *twv1.Integration) map[string]string {
	return map[string]string{labels.Integration: in.Name, labels.Component: "sync"}
}

// refreshInterval spreads credential refreshes: each Integration adds a stable jitter of up to a
// tenth of the interval, derived from its namespace and name, so thousands of tenants do not hit
// the vault in the same second and a restart does not move anyone's schedule.
func refreshInterval(in *twv1.Integration) time.Duration {
	base := DefaultRefreshInterval
	if in.Spec.CredentialsRefreshInterval != nil {
		base = in.Spec.CredentialsRefreshInterval.Duration
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(in.Namespace + "/" + in.Name))
	window := int64(base / 10)
	if window <= 0 {
		return base
	}
	jitter := time.Duration(int64(h.Sum64() % uint64(window))).Truncate(time.Second)
	return base + jitter
}

// desiredExternalSecret pulls one side's credentials from the tenant's store into a Secret that
// carries our labels (so the operator's label-filtered cache sees it) and is owned by the
// ExternalSecret (so ESO cleans it up).
func desiredExternalSecret(in *twv1.Integration, ip inputs, s side) *esv1.ExternalSecret {
	creds := credentialsOf(in, s)
	store := ip.tenant.Spec.SecretStore
	name := credentialsName(in, s)
	spec := esv1.ExternalSecretSpec{
		SecretStoreRef:  esv1.SecretStoreRef{Name: store.Name, Kind: string(store.Kind)},
		RefreshInterval: &metav1.Duration{Duration: refreshInterval(in)},
		Target: esv1.ExternalSecretTarget{
			Name:           name,
			CreationPolicy: esv1.CreatePolicyOwner,
			DeletionPolicy: esv1.DeletionPolicyRetain,
			Template: &esv1.ExternalSecretTemplate{
				Type:          corev1.SecretTypeOpaque,
				EngineVersion: esv1.TemplateEngineV2,
				Metadata: esv1.ExternalSecretTemplateMetadata{
					Labels: labels.ForIntegration(ip.tenant.Name, in.Name, labels.CredentialsComponent),
				},
			},
		},
	}
	key := remotePath(store.PathPrefix, creds.RemoteKey)
	switch {
	case s == storeSide:
		// The runtime reads the password from one file of a fixed name, whatever the vault calls it.
		property := storePasswordFile
		if len(creds.Properties) == 1 {
			property = creds.Properties[0]
		}
		spec.Data = []esv1.ExternalSecretData{{SecretKey: storePasswordFile, RemoteRef: esv1.ExternalSecretDataRemoteRef{Key: key, Property: property}}}
		creds.Properties = nil
	case len(creds.Properties) == 0:
		spec.DataFrom = []esv1.ExternalSecretDataFromRemoteRef{{Extract: &esv1.ExternalSecretDataRemoteRef{Key: key}}}
	}
	for _, p := range creds.Properties {
		spec.Data = append(spec.Data, esv1.ExternalSecretData{
			SecretKey: p,
			RemoteRef: esv1.ExternalSecretDataRemoteRef{Key: key, Property: p},
		})
	}
	return &esv1.ExternalSecret{
		TypeMeta:   metav1.TypeMeta{APIVersion: esv1.SchemeGroupVersion.String(), Kind: esv1.ExtSecretKind},
		ObjectMeta: childMeta(in, ip.tenant.Name, name, labels.CredentialsComponent),
		Spec:       spec,
	}
}

// remotePath resolves a remote key, which is always relative to the tenant's path prefix.
func remotePath(prefix, key string) string {
	return path.Join(prefix, key)
}

// withinPrefix is a second line behind the CRD's CEL rules (no "..", no leading "/"): the
// resolved key must still lie under the prefix, or the Integration is refused.
func withinPrefix(prefix, key string) bool {
	p := path.Clean(prefix)
	resolved := remotePath(prefix, key)
	return resolved != p && strings.HasPrefix(resolved, p+"/")
}

func desiredConfigMap(in *twv1.Integration, ip inputs) (*corev1.ConfigMap, error) {
	sched := syncconfig.Schedule{Interval: DefaultScheduleEvery.String()}
	if s := in.Spec.Schedule; s != nil {
		sched = syncconfig.Schedule{Cron: s.Cron}
		if s.Interval != nil {
			sched.Interval = s.Interval.Duration.String()
		}
	}
	endpoint := func(s side) syncconfig.Endpoint {
		ep := endpointOf(in, s)
		return syncconfig.Endpoint{System: string(ep.System), URL: ep.URL, CredentialsDir: path.Join(syncconfig.CredentialsDir, string(s)),
			AllowedHosts: allowedHosts(ip.hosts, in, s)}
	}
	body, err := syncconfig.Marshal(syncconfig.Config{
		Tenant:      ip.tenant.Name,
		Integration: in.Name,
		Source:      endpoint(sourceSide),
		Destination: endpoint(destinationSide),
		Schedule:    sched,
		Fields:      renderedFields(in),
		TLS:         syncconfig.TLS{MinVersion: syncconfig.MinTLSVersion},
		KeyringFile: keyringFile(ip),
		StateDir:    syncconfig.StateDir,
		Store:       storeConfig(in, ip.hosts),
		HealthAddr:  ":8081",
		MetricsAddr: ":9090",
		WebhookAddr: webhookAddr(in),
		Resync:      resyncRequest(in),
		TokenWriter: tokenWriterConfig(in),
		Replay:      replayRequest(in),
	})
	if err != nil {
		return nil, err
	}
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: childMeta(in, ip.tenant.Name, configName(in), "sync"),
		Data:       map[string]string{syncconfig.FileName: body},
	}, nil
}

func webhookAddr(in *twv1.Integration) string {
	if in.Spec.Source.System != twv1.SystemWebhook {
		return ""
	}
	return fmt.Sprintf(":%d", WebhookPort)
}

func storeConfig(in *twv1.Integration, hosts hostpolicy.Policy) syncconfig.Store {
	pg := postgresStore(in)
	if pg == nil {
		return syncconfig.Store{}
	}
	return syncconfig.Store{DSN: pg.DSN, PasswordFile: path.Join(syncconfig.CredentialsDir, string(storeSide), storePasswordFile),
		AllowedHosts: hosts.Postgres.Strings()}
}

func keyringFile(ip inputs) string {
	if ip.keyringVersion == "" {
		return ""
	}
	return path.Join(syncconfig.KeyringDir, keyring.DataKey)
}

// desiredServiceAccount is the sync pods' identity; no token is mounted because the runtime reads
// nothing from the Kubernetes API.
func desiredServiceAccount(in *twv1.Integration, ip inputs) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta:                   childMeta(in, ip.tenant.Name, syncName(in), "sync"),
		AutomountServiceAccountToken: ptr.To(false),
	}
}

// desiredReaderRole grants get on exactly this Integration's credential Secrets.
func desiredReaderRole(in *twv1.Integration, ip inputs) *rbacv1.Role {
	var names []string
	for _, s := range credentialSides(in) {
		names = append(names, credentialsName(in, s))
	}
	return &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: childMeta(in, ip.tenant.Name, readerRoleName(in), "rbac"),
		Rules: []rbacv1.PolicyRule{{
			APIGroups:     []string{""},
			Resources:     []string{"secrets"},
			Verbs:         []string{"get"},
			ResourceNames: names,
		}},
	}
}

func desiredReaderRoleBinding(in *twv1.Integration, ip inputs) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: childMeta(in, ip.tenant.Name, readerRoleName(in), "rbac"),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: readerRoleName(in)},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: syncName(in), Namespace: in.Namespace}},
	}
}

// desiredEgressPolicy limits the sync pods to the declared networks. The tenant's default-deny and
// DNS policies still apply; policies only add allowances, so this one adds exactly the declared
// egress and, for an inbound webhook source, the webhook port from the tenant's allowed namespaces.
func desiredEgressPolicy(in *twv1.Integration, ip inputs) *networkingv1.NetworkPolicy {
	var egress []networkingv1.NetworkPolicyEgressRule
	for _, e := range in.Spec.Egress {
		ports := e.Ports
		if len(ports) == 0 {
			ports = []int32{DefaultEgressPort}
		}
		rule := networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: e.CIDR}}}}
		for _, p := range ports {
			rule.Ports = append(rule.Ports, tcpPort(p))
		}
		egress = append(egress, rule)
	}
	policy := &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: childMeta(in, ip.tenant.Name, egressPolicyName(in), "isolation"),
		Spec: networkingv1.NetworkPolicySpec{
			// Every pod of the Integration, the export Job's included, reaches exactly this much.
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{labels.Integration: in.Name}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress:      egress,
		},
	}
	addCycleSummaryIngress(policy, ip.operator)
	addAPIServerEgress(policy, in, ip.apiServer)
	if in.Spec.Source.System == twv1.SystemWebhook {
		var from []networkingv1.NetworkPolicyPeer
		for _, a := range ip.tenant.Spec.Networking.AllowIngressFrom {
			from = append(from, networkingv1.NetworkPolicyPeer{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{labels.NamespaceNameLabel: a.Namespace}},
			})
		}
		if !slices.Contains(policy.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
			policy.Spec.PolicyTypes = append(policy.Spec.PolicyTypes, networkingv1.PolicyTypeIngress)
		}
		if len(from) > 0 {
			policy.Spec.Ingress = append(policy.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: from, Ports: []networkingv1.NetworkPolicyPort{tcpPort(WebhookPort)}})
		}
	}
	return policy
}

func tcpPort(p int32) networkingv1.NetworkPolicyPort {
	port := intstr.FromInt32(p)
	return networkingv1.NetworkPolicyPort{Protocol: ptr.To(corev1.ProtocolTCP), Port: &port}
}

// desiredReplicas is what the Deployment runs in each state (stopped has no Deployment at all); a
// held workload (a suspended tenant, a flow awaiting approval) runs nothing.
func desiredReplicas(in *twv1.Integration, held bool) int32 {
	if in.Spec.State == twv1.StatePaused || held {
		return 0
	}
	return ptr.Deref(in.Spec.Replicas, 1)
}

// desiredDeployment runs the sync runtime under the restricted pod security profile, with
// credentials mounted as read-only files. The pod template carries digests of the credentials
// and configuration, so it changes (and the pods roll) exactly when one of them changes.
func desiredDeployment(in *twv1.Integration, ip inputs, cm *corev1.ConfigMap) *appsv1.Deployment {
	image := in.Spec.Image
	if image == "" {
		image = ip.syncImage
	}
	podLabels := runtimePodLabels(in, ip, "sync")

	ports := []corev1.ContainerPort{
		{Name: "health", ContainerPort: HealthPort, Protocol: corev1.ProtocolTCP},
		{Name: "metrics", ContainerPort: MetricsPort, Protocol: corev1.ProtocolTCP},
	}
	if in.Spec.Source.System == twv1.SystemWebhook {
		ports = append(ports, corev1.ContainerPort{Name: "webhook", ContainerPort: WebhookPort, Protocol: corev1.ProtocolTCP})
	}
	probe := func(p string) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: p, Port: intstr.FromString("health")}},
			PeriodSeconds: 10, TimeoutSeconds: 2, FailureThreshold: 3,
		}
	}

	annotations := map[string]string{
		CredentialsHashAnnotation: ip.credentialsHash,
		ConfigHashAnnotation:      digest(cm.Data[syncconfig.FileName]),
	}
	mounts, volumes := podVolumes(in, ip)
	if ip.keyringVersion != "" {
		// The active version in the template rolls the pods when keys rotate.
		annotations[KeyringVersionAnnotation] = ip.keyringVersion
	}
	serviceAccount := syncName(in)
	if len(rotatingSides(in)) > 0 {
		// The pods run as the token writer, whose projected token may patch the rotated-token
		// Secret and nothing else; the sync ServiceAccount's token is never mounted.
		serviceAccount = tokenWriterName(in)
		mount, vol := tokenWriterVolume()
		mounts, volumes = append(mounts, mount), append(volumes, vol)
	}

	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: childMeta(in, ip.tenant.Name, syncName(in), "sync"),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(desiredReplicas(in, ip.tenantSuspended || ip.awaitingApproval)),
			Selector: &metav1.LabelSelector{MatchLabels: podSelector(in)},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels, Annotations: annotations},
				Spec: corev1.PodSpec{
					ImagePullSecrets:             imagePullSecrets(ip),
					ServiceAccountName:           serviceAccount,
					AutomountServiceAccountToken: ptr.To(false),
					EnableServiceLinks:           ptr.To(false),
					SecurityContext:              podSecurityContext(),
					Containers: []corev1.Container{{
						Name:            "sync",
						Image:           image,
						Args:            []string{"sync", "--config", path.Join(syncconfig.ConfigDir, syncconfig.FileName)},
						Ports:           ports,
						SecurityContext: containerSecurityContext(),
						Resources:       syncResources(in),
						ReadinessProbe:  probe("/readyz"),
						LivenessProbe:   probe("/healthz"),
						VolumeMounts:    mounts,
					}},
					Volumes: volumes,
				},
			},
		},
	}
}

// imagePullSecrets references the platform's pull Secrets (--sync-image-pull-secrets) by name.
func imagePullSecrets(ip inputs) []corev1.LocalObjectReference {
	var refs []corev1.LocalObjectReference
	for _, n := range ip.pullSecrets {
		refs = append(refs, corev1.LocalObjectReference{Name: n})
	}
	return refs
}

// podVolumes are the mounts of every pod that runs the sync runtime: configuration, credentials
// and keyring read-only, the state volume, and a small in-memory /tmp (the root is read-only).
func podVolumes(in *twv1.Integration, ip inputs) ([]corev1.VolumeMount, []corev1.Volume) {
	mounts := []corev1.VolumeMount{{Name: "config", MountPath: syncconfig.ConfigDir, ReadOnly: true}}
	volumes := []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: configName(in)}}}}}
	for _, s := range credentialSides(in) {
		name := string(s) + "-credentials"
		mounts = append(mounts, corev1.VolumeMount{Name: name, MountPath: path.Join(syncconfig.CredentialsDir, string(s)), ReadOnly: true})
		volumes = append(volumes, secretVolume(name, credentialsName(in, s)))
	}
	state := corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
	if claim := stateClaim(in); claim != "" {
		state = corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}
	}
	mounts = append(mounts,
		corev1.VolumeMount{Name: "state", MountPath: syncconfig.StateDir},
		corev1.VolumeMount{Name: "tmp", MountPath: "/tmp"})
	volumes = append(volumes,
		corev1.Volume{Name: "state", VolumeSource: state},
		corev1.Volume{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}})
	if ip.keyringVersion != "" {
		mounts = append(mounts, corev1.VolumeMount{Name: "keyring", MountPath: syncconfig.KeyringDir, ReadOnly: true})
		volumes = append(volumes, secretVolume("keyring", keyring.SecretName))
	}
	return mounts, volumes
}

// runtimePodLabels label a pod that runs tenantwire for an Integration (sync or export).
func runtimePodLabels(in *twv1.Integration, ip inputs, component string) map[string]string {
	l := labels.ForIntegration(ip.tenant.Name, in.Name, component)
	l["app.kubernetes.io/name"] = "tenantwire-" + component
	return l
}

// syncResources are the Integration's container resources, or the documented defaults.
func syncResources(in *twv1.Integration) corev1.ResourceRequirements {
	if in.Spec.Resources != nil {
		return *in.Spec.Resources.DeepCopy()
	}
	return *defaultResources.DeepCopy()
}

// podSecurityContext and containerSecurityContext satisfy the restricted Pod Security profile.
func podSecurityContext() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		RunAsUser:      ptr.To[int64](65532),
		RunAsGroup:     ptr.To[int64](65532),
		FSGroup:        ptr.To[int64](65532),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

func containerSecurityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		RunAsNonRoot:             ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
}

func secretVolume(name, secret string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: secret, DefaultMode: ptr.To[int32](0o440),
	}}}
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}
