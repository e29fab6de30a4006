package master

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestCoalescer_AnswersEachCaller checks that concurrent items are gathered
// into batches and that every caller gets its own item's error.
func TestCoalescer_AnswersEachCaller(t *testing.T) {
	var mu sync.Mutex
	var batches []int
	c := newCoalescer(8, 2, func(_ context.Context, items []int) ([]error, error) {
		mu.Lock()
		batches = append(batches, len(items))
		mu.Unlock()
		time.Sleep(time.Millisecond) // let the queue fill behind this batch
		errs := make([]error, len(items))
		for i, it := range items {
			if it%3 == 0 {
				errs[i] = fmt.Errorf("item %d rejected", it)
			}
		}
		return errs, nil
	})
	defer c.close()
	var wg sync.WaitGroup
	for i := 1; i <= 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.do(context.Background(), i)
			want := i%3 == 0
			if (err != nil) != want || (err != nil && err.Error() != fmt.Sprintf("item %d rejected", i)) {
				t.Errorf("item %d: got %v", i, err)
			}
		}()
	}
	wg.Wait()
	total := 0
	for _, n := range batches {
		if n > 8 {
			t.Errorf("batch of %d items, max is 8", n)
		}
		total += n
	}
	if total != 100 {
		t.Fatalf("%d items applied, want 100 (batches %v)", total, batches)
	}
}

// TestCoalescer_BatchError gives every caller of a failed batch its error.
func TestCoalescer_BatchError(t *testing.T) {
	boom := errors.New("not leader")
	c := newCoalescer(4, 1, func(context.Context, []string) ([]error, error) { return nil, boom })
	if err := c.do(context.Background(), "x"); !errors.Is(err, boom) {
		t.Fatalf("got %v, want %v", err, boom)
	}
	c.close()
	if err := c.do(context.Background(), "y"); !errors.Is(err, errClosed) {
		t.Fatalf("after close: %v, want errClosed", err)
	}
}

// BenchmarkCoalescer measures the overhead of queueing through the coalescer
// with 64 concurrent callers and an apply that does nothing.
func BenchmarkCoalescer(b *testing.B) {
	c := newCoalescer(256, 2, func(context.Context, []int) ([]error, error) { return nil, nil })
	defer c.close()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := c.do(context.Background(), 1); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
