// Command kubesched places pods on simulated nodes with kube-scheduler's
// own code (k8s.io/kubernetes/pkg/scheduler, v1.37.2, default profile) on
// a fake clientset, in one process, and prints what it measured as JSON,
// like storepeer: {"ops": pods, "elapsed_ns": D, "latencies_ns": [...]}.
// Each pod's latency runs from just before its Create to its binding.
//
//	kubesched -nodes 1000 -pods 10000 -writers 64
//
// The fake clientset has no apiserver and no store behind it (no
// validation, no fsync), so this is kube-scheduler's placement cost with
// the control plane taken out; wask's sched scenario includes its real
// apiserver and store. The bench report says so next to the figures.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"sync"
	"sync/atomic"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic/dynamicinformer"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/scheduler"
	"k8s.io/kubernetes/pkg/scheduler/profile"
)

type sample struct {
	Ops       int             `json:"ops"`
	Elapsed   time.Duration   `json:"elapsed_ns"`
	Latencies []time.Duration `json:"latencies_ns"`
}

func main() {
	log.SetFlags(0)
	nodes := flag.Int("nodes", 1000, "simulated nodes")
	pods := flag.Int("pods", 10000, "pods to place")
	writers := flag.Int("writers", 64, "concurrent pod creators")
	flag.Parse()
	klog.SetOutput(os.Stderr)
	klog.LogToStderr(false)
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	fs.Set("v", "0")
	fs.Set("logtostderr", "false")
	fs.Set("stderrthreshold", "FATAL")

	// The fake tracker's watchers panic when their buffer fills; a real
	// apiserver's watch cache buffers far more, so size them for the run.
	watch.DefaultChanSize = int32(2**pods + *nodes + 1000)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := fake.NewSimpleClientset()
	var mu sync.Mutex
	created := make(map[string]time.Time, *pods)
	lat := make([]time.Duration, 0, *pods)
	var bound atomic.Int64
	allBound := make(chan struct{})
	podsGVR := schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	// The tracker has no pods/binding subresource: do what the apiserver
	// does with a Binding, set the pod's node.
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "binding" {
			return false, nil, nil
		}
		b := a.(k8stesting.CreateAction).GetObject().(*v1.Binding)
		now := time.Now()
		obj, err := client.Tracker().Get(podsGVR, b.Namespace, b.Name)
		if err != nil {
			return true, nil, err
		}
		p := obj.(*v1.Pod).DeepCopy()
		p.Spec.NodeName = b.Target.Name
		if err := client.Tracker().Update(podsGVR, p, b.Namespace); err != nil {
			return true, nil, err
		}
		mu.Lock()
		lat = append(lat, now.Sub(created[b.Name]))
		mu.Unlock()
		if bound.Add(1) == int64(*pods) {
			close(allBound)
		}
		return true, b, nil
	})

	for i := range *nodes {
		alloc := v1.ResourceList{v1.ResourceCPU: resource.MustParse("64"), v1.ResourceMemory: resource.MustParse("64Gi"), v1.ResourcePods: resource.MustParse("1000")}
		n := &v1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("sim-%04d", i), UID: types.UID(fmt.Sprintf("node-uid-%04d", i)), Labels: map[string]string{"topology.kubernetes.io/zone": fmt.Sprintf("z%d", i%3), "kubernetes.io/hostname": fmt.Sprintf("sim-%04d", i)}},
			Status:     v1.NodeStatus{Capacity: alloc, Allocatable: alloc, Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}}},
		}
		if _, err := client.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil {
			log.Fatalf("kubesched: node: %v", err)
		}
	}
	informerFactory := informers.NewSharedInformerFactory(client, 0)
	dynInformerFactory := dynamicinformer.NewDynamicSharedInformerFactory(dynamicfake.NewSimpleDynamicClient(runtime.NewScheme()), 0)
	broadcaster := events.NewBroadcaster(&events.EventSinkImpl{Interface: client.EventsV1()})
	broadcaster.StartRecordingToSink(ctx.Done())
	sched, err := scheduler.New(ctx, client, informerFactory, dynInformerFactory, profile.NewRecorderFactory(broadcaster))
	if err != nil {
		log.Fatalf("kubesched: scheduler: %v", err)
	}
	informerFactory.Start(ctx.Done())
	dynInformerFactory.Start(ctx.Done())
	informerFactory.WaitForCacheSync(ctx.Done())
	dynInformerFactory.WaitForCacheSync(ctx.Done())
	go sched.Run(ctx)

	next := make(chan int, *pods)
	for i := range *pods {
		next <- i
	}
	close(next)
	start := time.Now()
	var wg sync.WaitGroup
	for range *writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				name := fmt.Sprintf("p-%05d", i)
				p := &v1.Pod{
					ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(fmt.Sprintf("uid-%05d", i)), Labels: map[string]string{"app": fmt.Sprintf("a%d", i%10)}},
					Spec: v1.PodSpec{SchedulerName: v1.DefaultSchedulerName, Containers: []v1.Container{{Name: "c", Image: "none",
						Resources: v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("10m"), v1.ResourceMemory: resource.MustParse("16Mi")}}}}},
				}
				mu.Lock()
				created[name] = time.Now()
				mu.Unlock()
				if _, err := client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
					log.Fatalf("kubesched: pod: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	select {
	case <-allBound:
	case <-time.After(10 * time.Minute):
		log.Fatalf("kubesched: %d of %d pods bound in 10 minutes", bound.Load(), *pods)
	}
	elapsed := time.Since(start)
	mu.Lock()
	defer mu.Unlock()
	json.NewEncoder(os.Stdout).Encode(sample{Ops: *pods, Elapsed: elapsed, Latencies: lat})
}
