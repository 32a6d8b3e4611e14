// Command k8s-validate checks every object of a multi-document YAML stream (the output of `helm template`)
// strictly, offline, against pinned API definitions:
//
//   - Kubernetes kinds are decoded with the k8s.io/api Go types of the version in go.mod, strictly: an unknown or
//     duplicate field, a wrong type, or a kind/version that this Kubernetes does not serve is an error.
//   - The Prometheus Operator's ServiceMonitor and PrometheusRule are decoded the same way, with its Go types
//     (github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring, version in go.mod).
//   - Custom resources (KEDA's ScaledObject and TriggerAuthentication) are checked against the CRDs given with -crd,
//     the way the API server does it: the structural schema prunes unknown fields (each one is an error here), the
//     OpenAPI schema and its CEL rules validate the rest.
//   - A NetworkPolicy's ipBlock peers must hold valid CIDRs, each `except` inside its `cidr` (what the API server
//     checks; the Go types take any string).
//   - With -keda-scalers (the pinned KEDA module's pkg/scalers directory), each ScaledObject trigger's metadata keys
//     and each TriggerAuthentication parameter must be ones the scaler's source declares: KEDA itself ignores a
//     misspelt key, so a typo would silently fall back to a default.
//
// Usage: k8s-validate -crd DIR_OR_FILE... [-keda-scalers DIR] [FILE|-]
// Prints one "ok" line per valid object; errors go to stderr and the exit code is 1.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	kyaml "k8s.io/apimachinery/pkg/util/yaml"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// document is one YAML document of the input, with where it came from for messages.
type document struct {
	index  int
	source string // helm template's "# Source:" comment, if any
	json   []byte
}

func (d document) where() string {
	if d.source != "" {
		return d.source
	}
	return fmt.Sprintf("document %d", d.index)
}

type crdVersion struct {
	crd        string
	structural *structuralschema.Structural
	validator  validation.SchemaValidator
	cel        *cel.Validator
}

type validator struct {
	serializer *kjson.Serializer
	scheme     *runtime.Scheme
	crds       map[schema.GroupVersionKind]*crdVersion
	scalers    *scalerKeys
	// For the cross-object KEDA check: trigger types per TriggerAuthentication name, and the authentications seen.
	authUsers map[string][]string
	auths     []triggerAuth
	errs      []string
	ok        int
}

func main() {
	var crdPaths stringList
	flag.Var(&crdPaths, "crd", "a CRD YAML file, or a directory of them (repeatable)")
	scalersDir := flag.String("keda-scalers", "", "KEDA module's pkg/scalers directory: checks trigger metadata keys")
	flag.Parse()

	v, err := newValidator(crdPaths, *scalersDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "k8s-validate: %v\n", err)
		os.Exit(2)
	}
	var in io.Reader = os.Stdin
	if flag.NArg() > 0 && flag.Arg(0) != "-" {
		f, err := os.Open(flag.Arg(0))
		if err != nil {
			fmt.Fprintf(os.Stderr, "k8s-validate: %v\n", err)
			os.Exit(2)
		}
		defer f.Close()
		in = f
	}
	docs, err := readDocuments(in)
	if err != nil {
		fmt.Fprintf(os.Stderr, "k8s-validate: %v\n", err)
		os.Exit(2)
	}
	for _, d := range docs {
		v.validate(d)
	}
	v.checkTriggerAuthentications()
	for _, e := range v.errs {
		fmt.Fprintln(os.Stderr, e)
	}
	fmt.Printf("validated %d objects against k8s.io/api %s: %d ok, %d errors\n", len(docs), moduleVersion("k8s.io/api"), v.ok, len(v.errs))
	if len(v.errs) > 0 || len(docs) == 0 {
		os.Exit(1)
	}
}

func moduleVersion(path string) string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == path {
				return dep.Version
			}
		}
	}
	return "(unknown)"
}

func newValidator(crdPaths []string, scalersDir string) (*validator, error) {
	scheme := runtime.NewScheme()
	// Only the GA groups a chart should use; anything else (a beta API, a typo in apiVersion) is not registered.
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme, networkingv1.AddToScheme,
		autoscalingv2.AddToScheme, rbacv1.AddToScheme,
		// The Prometheus Operator publishes its API as Go types (its CRDs are generated from them).
		monitoringv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	v := &validator{
		scheme:     scheme,
		serializer: kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme, kjson.SerializerOptions{Strict: true}),
		crds:       map[schema.GroupVersionKind]*crdVersion{},
		authUsers:  map[string][]string{},
	}
	for _, p := range crdPaths {
		files := []string{p}
		if st, err := os.Stat(p); err != nil {
			return nil, err
		} else if st.IsDir() {
			files, _ = filepath.Glob(filepath.Join(p, "*.yaml"))
		}
		for _, f := range files {
			if err := v.loadCRDs(f); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
		}
	}
	if scalersDir != "" {
		v.scalers = &scalerKeys{dir: scalersDir, cache: map[string]*keySet{}}
	}
	return v, nil
}

func (v *validator) loadCRDs(file string) error {
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	docs, err := readDocuments(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	for _, d := range docs {
		var crd apiextensionsv1.CustomResourceDefinition
		dec := json.NewDecoder(bytes.NewReader(d.json))
		if err := dec.Decode(&crd); err != nil {
			return err
		}
		if crd.Kind != "CustomResourceDefinition" {
			continue
		}
		for _, ver := range crd.Spec.Versions {
			if !ver.Served || ver.Schema == nil || ver.Schema.OpenAPIV3Schema == nil {
				continue
			}
			internal := &apiextensions.JSONSchemaProps{}
			if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(ver.Schema.OpenAPIV3Schema, internal, nil); err != nil {
				return err
			}
			structural, err := structuralschema.NewStructural(internal)
			if err != nil {
				return fmt.Errorf("%s %s: not a structural schema: %w", crd.Name, ver.Name, err)
			}
			sv, _, err := validation.NewSchemaValidator(internal)
			if err != nil {
				return err
			}
			gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: ver.Name, Kind: crd.Spec.Names.Kind}
			v.crds[gvk] = &crdVersion{
				crd:        crd.Name,
				structural: structural,
				validator:  sv,
				cel:        cel.NewValidator(structural, true, celconfig.PerCallLimit),
			}
		}
	}
	return nil
}

var sourceComment = regexp.MustCompile(`(?m)^# Source: (.+)$`)

// readDocuments splits a YAML stream into documents, skipping empty ones, and converts each to JSON (duplicate keys
// are an error, as they are for kubectl).
func readDocuments(in io.Reader) ([]document, error) {
	reader := kyaml.NewYAMLReader(bufio.NewReader(in))
	var docs []document
	for i := 0; ; i++ {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		d := document{index: i}
		if m := sourceComment.FindSubmatch(raw); m != nil {
			d.source = strings.TrimSpace(string(m[1]))
		}
		j, err := yaml.YAMLToJSONStrict(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.where(), err)
		}
		if t := bytes.TrimSpace(j); len(t) == 0 || bytes.Equal(t, []byte("null")) {
			continue
		}
		d.json = j
		docs = append(docs, d)
	}
}

func (v *validator) fail(d document, id string, format string, args ...any) {
	v.errs = append(v.errs, fmt.Sprintf("%s %s: %s", d.where(), id, fmt.Sprintf(format, args...)))
}

func (v *validator) validate(d document) {
	var meta struct {
		metav1.TypeMeta
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(d.json, &meta); err != nil {
		v.fail(d, "?", "not a Kubernetes object: %v", err)
		return
	}
	gvk := meta.GroupVersionKind()
	id := fmt.Sprintf("%s %s/%s", meta.APIVersion, meta.Kind, meta.Metadata.Name)
	if meta.APIVersion == "" || meta.Kind == "" || meta.Metadata.Name == "" {
		v.fail(d, id, "apiVersion, kind and metadata.name are required")
		return
	}
	if v.scheme.Recognizes(gvk) {
		decoded, _, err := v.serializer.Decode(d.json, nil, nil)
		if err != nil {
			v.fail(d, id, "%v", err)
			return
		}
		if np, isPolicy := decoded.(*networkingv1.NetworkPolicy); isPolicy {
			if errs := checkIPBlocks(np); len(errs) > 0 {
				for _, e := range errs {
					v.fail(d, id, "%s", e)
				}
				return
			}
		}
		v.ok++
		fmt.Printf("ok %s (%s)\n", id, d.where())
		return
	}
	crd, known := v.crds[gvk]
	if !known {
		v.fail(d, id, "unknown kind: neither Kubernetes %s nor a given CRD serves %s", moduleVersion("k8s.io/api"), gvk)
		return
	}
	if errs := v.validateCustomResource(d, crd); len(errs) > 0 {
		for _, e := range errs {
			v.fail(d, id, "%s", e)
		}
		return
	}
	v.ok++
	fmt.Printf("ok %s (%s, CRD %s)\n", id, d.where(), crd.crd)
}

// validateCustomResource does what the API server does with a custom resource: metadata decodes as ObjectMeta,
// unknown fields are pruned (each one reported here), then the OpenAPI schema and the CEL rules are checked.
func (v *validator) validateCustomResource(d document, crd *crdVersion) []string {
	var obj map[string]any
	if err := utiljson.Unmarshal(d.json, &obj); err != nil {
		return []string{err.Error()}
	}
	var problems []string
	if metaJSON, err := json.Marshal(obj["metadata"]); err == nil {
		dec := json.NewDecoder(bytes.NewReader(metaJSON))
		dec.DisallowUnknownFields()
		var om metav1.ObjectMeta
		if err := dec.Decode(&om); err != nil {
			problems = append(problems, "metadata: "+err.Error())
		}
	}
	pruned := pruning.PruneWithOptions(runtime.DeepCopyJSON(obj), crd.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	for _, p := range pruned {
		problems = append(problems, fmt.Sprintf("unknown field %q", p))
	}
	for _, e := range validation.ValidateCustomResource(nil, obj, crd.validator) {
		problems = append(problems, e.Error())
	}
	celErrs, _ := crd.cel.Validate(context.Background(), nil, crd.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	for _, e := range celErrs {
		problems = append(problems, e.Error())
	}
	if v.scalers != nil {
		problems = append(problems, v.checkKeda(obj)...)
	}
	return problems
}

// --- KEDA trigger metadata -------------------------------------------------------------------------------------

// scalerSources names the files of the pinned KEDA module that declare a trigger type's settings (KEDA's typed
// config: `keda:"name=...,order=triggerMetadata;authParams;resolvedEnv"` struct tags).
var scalerSources = map[string][]string{
	"redis-streams": {"redis_streams_scaler.go", "redis_scaler.go"},
	"temporal":      {"temporal_scaler.go"},
	"prometheus":    {"prometheus_scaler.go"},
	"cpu":           {"cpu_memory_scaler.go"},
	"memory":        {"cpu_memory_scaler.go"},
}

type keySet struct {
	metadata map[string]bool
	auth     map[string]bool
}

type scalerKeys struct {
	dir   string
	cache map[string]*keySet
}

var kedaTag = regexp.MustCompile("keda:\"([^\"]*)\"")

func (s *scalerKeys) forType(triggerType string) (*keySet, error) {
	if ks, ok := s.cache[triggerType]; ok {
		return ks, nil
	}
	files, known := scalerSources[triggerType]
	if !known {
		return nil, fmt.Errorf("trigger type %q: k8s-validate does not know which KEDA source declares its metadata", triggerType)
	}
	ks := &keySet{metadata: map[string]bool{}, auth: map[string]bool{}}
	for _, f := range files {
		src, err := os.ReadFile(filepath.Join(s.dir, f))
		if err != nil {
			return nil, fmt.Errorf("trigger type %q is not in this KEDA version: %w", triggerType, err)
		}
		for _, m := range kedaTag.FindAllSubmatch(src, -1) {
			var names, orders []string
			for _, part := range strings.Split(string(m[1]), ",") {
				k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
				switch k {
				case "name":
					names = strings.Split(val, ";")
				case "order":
					orders = strings.Split(val, ";")
				}
			}
			for _, n := range names {
				n = strings.TrimSpace(n)
				for _, o := range orders {
					switch strings.TrimSpace(o) {
					case "triggerMetadata":
						ks.metadata[n] = true
					case "resolvedEnv":
						ks.metadata[n+"FromEnv"] = true
					case "authParams":
						ks.auth[n] = true
					}
				}
			}
		}
	}
	if triggerType == "cpu" || triggerType == "memory" {
		// The CPU and memory scalers read their one setting without typed config tags.
		ks.metadata["value"], ks.metadata["type"], ks.metadata["containerName"] = true, true, true
	}
	if len(ks.metadata) == 0 {
		return nil, fmt.Errorf("trigger type %q: no settings found in %v", triggerType, files)
	}
	s.cache[triggerType] = ks
	return ks, nil
}

type triggerAuth struct {
	name       string
	parameters []string
	where      string
}

func (v *validator) checkKeda(obj map[string]any) []string {
	kind, _ := obj["kind"].(string)
	spec, _ := obj["spec"].(map[string]any)
	var problems []string
	switch kind {
	case "ScaledObject":
		triggers, _ := spec["triggers"].([]any)
		for i, t := range triggers {
			trigger, _ := t.(map[string]any)
			triggerType, _ := trigger["type"].(string)
			ks, err := v.scalers.forType(triggerType)
			if err != nil {
				problems = append(problems, fmt.Sprintf("spec.triggers[%d]: %v", i, err))
				continue
			}
			md, _ := trigger["metadata"].(map[string]any)
			for _, key := range sortedKeys(md) {
				if !ks.metadata[key] {
					problems = append(problems, fmt.Sprintf("spec.triggers[%d].metadata.%s: not a setting of KEDA's %q scaler (known: %s)", i, key, triggerType, strings.Join(sortedKeys(ks.metadata), ", ")))
				}
			}
			if ref, ok := trigger["authenticationRef"].(map[string]any); ok {
				name, _ := ref["name"].(string)
				v.authUsers[name] = append(v.authUsers[name], triggerType)
			}
		}
	case "TriggerAuthentication":
		meta, _ := obj["metadata"].(map[string]any)
		name, _ := meta["name"].(string)
		ta := triggerAuth{name: name, where: "TriggerAuthentication/" + name}
		refs, _ := spec["secretTargetRef"].([]any)
		for _, r := range refs {
			ref, _ := r.(map[string]any)
			p, _ := ref["parameter"].(string)
			ta.parameters = append(ta.parameters, p)
		}
		v.auths = append(v.auths, ta)
	}
	return problems
}

// checkTriggerAuthentications: every parameter must be an auth parameter of each scaler that uses the object.
func (v *validator) checkTriggerAuthentications() {
	if v.scalers == nil {
		return
	}
	for _, ta := range v.auths {
		users := v.authUsers[ta.name]
		if len(users) == 0 {
			v.errs = append(v.errs, fmt.Sprintf("%s: no ScaledObject trigger references it", ta.where))
			continue
		}
		for _, triggerType := range users {
			ks, err := v.scalers.forType(triggerType)
			if err != nil {
				continue // reported with the trigger
			}
			for _, p := range ta.parameters {
				if !ks.auth[p] {
					v.errs = append(v.errs, fmt.Sprintf("%s: parameter %q is not an auth parameter of KEDA's %q scaler (known: %s)", ta.where, p, triggerType, strings.Join(sortedKeys(ks.auth), ", ")))
				}
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// checkIPBlocks parses every ipBlock of a NetworkPolicy's rules: cidr and except must be CIDRs, and each except must
// lie inside its cidr (the API server's rule; a typo such as 10.0.0.0/33 would otherwise reach it unnoticed).
func checkIPBlocks(np *networkingv1.NetworkPolicy) []string {
	var errs []string
	check := func(where string, peers []networkingv1.NetworkPolicyPeer) {
		for i, peer := range peers {
			block := peer.IPBlock
			if block == nil {
				continue
			}
			at := fmt.Sprintf("%s[%d].ipBlock", where, i)
			cidr, err := netip.ParsePrefix(block.CIDR)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s.cidr %q: not a CIDR (%v)", at, block.CIDR, err))
				continue
			}
			for _, except := range block.Except {
				prefix, err := netip.ParsePrefix(except)
				switch {
				case err != nil:
					errs = append(errs, fmt.Sprintf("%s.except %q: not a CIDR (%v)", at, except, err))
				case prefix.Addr().Is4() != cidr.Addr().Is4() || prefix.Bits() < cidr.Bits() || !cidr.Contains(prefix.Addr()):
					errs = append(errs, fmt.Sprintf("%s: except %q is not inside cidr %q", at, except, block.CIDR))
				}
			}
		}
	}
	for i, rule := range np.Spec.Egress {
		check(fmt.Sprintf("spec.egress[%d].to", i), rule.To)
	}
	for i, rule := range np.Spec.Ingress {
		check(fmt.Sprintf("spec.ingress[%d].from", i), rule.From)
	}
	return errs
}
