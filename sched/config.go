package sched

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"sort"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config configures the scheduler. Its file form is YAML with the field
// names below, for example:
//
//	seed: 7
//	filters: [NodeReady, NodeAffinity, TaintToleration, HostCapabilities, ResourceFit]
//	scorers:
//	  - {name: MostAllocated, weight: 1}
//	  - {name: TopologySpread, weight: 2}
//	topologyKeys: [zone]
//
// Every field has a default (the zero value means "default").
type Config struct {
	// Seed seeds the tie-break between equally scored nodes. Default 0.
	Seed uint64 `yaml:"seed"`
	// Filters are the filter plugins in the order they run. Default:
	// DefaultFilters.
	Filters []string `yaml:"filters"`
	// Scorers are the score plugins and their weights. Default:
	// DefaultScorers.
	Scorers []ScorerConfig `yaml:"scorers"`
	// TopologyKeys are the node labels TopologySpread spreads an owner's
	// pods over. Default: ["zone"].
	TopologyKeys []string `yaml:"topologyKeys"`
	// PercentageOfNodesToScore bounds the work per pod in large clusters,
	// as in kube-scheduler: filtering stops once this percentage of the
	// nodes (at least 100 nodes) has been found feasible, and only those
	// are scored. 100 filters and scores every node. Default 0: adaptive,
	// 50% less 1% per 125 nodes, at least 5% (42% of 1,000 nodes).
	PercentageOfNodesToScore int `yaml:"percentageOfNodesToScore"`
	// Plugins are custom plugins (Go values implementing FilterPlugin or
	// ScorePlugin, or both). They are available by name to Filters and
	// Scorers; listing one there enables it. Not in the file form.
	Plugins []Plugin `yaml:"-"`

	// BindBatchSize is the most bindings sent in one Bind call (the
	// apiserver accepts up to 1,000 by default). Default 500.
	BindBatchSize int `yaml:"bindBatchSize"`
	// InitialBackoff is how long a pod that fits no node waits before it
	// is tried again even if nothing changes; it doubles per failure up to
	// MaxBackoff. A change of nodes, pods or modules retries it sooner.
	// Defaults 1s and 30s.
	InitialBackoff time.Duration `yaml:"initialBackoff"`
	MaxBackoff     time.Duration `yaml:"maxBackoff"`
}

// ScorerConfig enables one score plugin.
type ScorerConfig struct {
	Name string `yaml:"name"`
	// Weight multiplies the plugin's 0–100 score in the total; at least
	// 1. Default 1.
	Weight int64 `yaml:"weight"`
}

// DefaultFilters run unless Config.Filters says otherwise.
var DefaultFilters = []string{NodeReadyName, NodeAffinityName, TaintTolerationName, HostCapabilitiesName, ResourceFitName}

// DefaultScorers run unless Config.Scorers says otherwise.
var DefaultScorers = []ScorerConfig{
	{LeastAllocatedName, 1},
	{OwnerSpreadName, 2},
	{TopologySpreadName, 2},
	{NodePreferenceName, 2},
	{TaintPreferenceName, 3},
}

// builtins are the plugins the Config can name without registering them.
func builtins() []Plugin {
	return []Plugin{
		NodeReady{}, NodeAffinity{}, TaintToleration{}, HostCapabilities{}, ResourceFit{},
		LeastAllocated{}, MostAllocated{}, OwnerSpread{}, TopologySpread{}, NodePreference{}, TaintPreference{},
	}
}

// LoadConfig reads a config file (YAML; unknown fields are errors).
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("scheduler config: %w", err)
	}
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return Config{}, fmt.Errorf("scheduler config %s: %w", path, err)
	}
	return cfg, nil
}

// withDefaults fills the zero fields.
func (c Config) withDefaults() Config {
	if c.Filters == nil {
		c.Filters = DefaultFilters
	}
	if c.Scorers == nil {
		c.Scorers = DefaultScorers
	}
	if c.TopologyKeys == nil {
		c.TopologyKeys = []string{"zone"}
	}
	if c.BindBatchSize <= 0 {
		c.BindBatchSize = 500
	}
	if c.InitialBackoff <= 0 {
		c.InitialBackoff = time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 30 * time.Second
	}
	return c
}

// NewFramework builds a Framework from cfg. An unknown or misplaced plugin name, or
// a bad weight, is an error naming the field.
func NewFramework(cfg Config) (*Framework, error) {
	cfg = cfg.withDefaults()
	byName := map[string]Plugin{}
	for _, p := range append(builtins(), cfg.Plugins...) {
		byName[p.Name()] = p
	}
	known := func(want func(Plugin) bool) []string {
		var names []string
		for name, p := range byName {
			if want(p) {
				names = append(names, name)
			}
		}
		sort.Strings(names)
		return names
	}
	isFilter := func(p Plugin) bool { _, ok := p.(FilterPlugin); return ok }
	isScorer := func(p Plugin) bool { _, ok := p.(ScorePlugin); return ok }
	if cfg.PercentageOfNodesToScore < 0 || cfg.PercentageOfNodesToScore > 100 {
		return nil, fmt.Errorf("scheduler config: percentageOfNodesToScore: must be 0 to 100, not %d", cfg.PercentageOfNodesToScore)
	}
	f := &Framework{seed: cfg.Seed, topo: slices.Clone(cfg.TopologyKeys), percent: cfg.PercentageOfNodesToScore}
	for i, name := range cfg.Filters {
		fp, ok := byName[name].(FilterPlugin)
		if !ok {
			return nil, fmt.Errorf("scheduler config: filters[%d]: %q is not a filter plugin (known: %v)", i, name, known(isFilter))
		}
		f.filters = append(f.filters, fp)
	}
	for i, sc := range cfg.Scorers {
		sp, ok := byName[sc.Name].(ScorePlugin)
		if !ok {
			return nil, fmt.Errorf("scheduler config: scorers[%d].name: %q is not a score plugin (known: %v)", i, sc.Name, known(isScorer))
		}
		w := sc.Weight
		if w == 0 {
			w = 1
		}
		if w < 0 || w > 1000 {
			return nil, fmt.Errorf("scheduler config: scorers[%d].weight: must be 1 to 1000, not %d", i, sc.Weight)
		}
		f.scorers = append(f.scorers, weighted{sp, w})
	}
	for i, k := range cfg.TopologyKeys {
		if k == "" {
			return nil, fmt.Errorf("scheduler config: topologyKeys[%d]: empty", i)
		}
	}
	return f, nil
}
