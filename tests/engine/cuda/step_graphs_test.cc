// Tests for engine/cuda/step_graphs.h: eager first, capture second, replay after; key 0 never
// captured; invalidation and eviction hand every graph back exactly once.
#include "engine/cuda/step_graphs.h"

#include <gtest/gtest.h>

#include <set>

namespace parapet::engine::cuda {
namespace {

using Action = StepGraphs::Action;

struct Destroyed {
  std::multiset<void*> handles;
};

void* Handle(int i) { return reinterpret_cast<void*>(static_cast<uintptr_t>(0x1000 + i)); }

TEST(StepGraphs, EagerThenCaptureThenReplay) {
  Destroyed d;
  {
    StepGraphs g(4, [&](void* h) { d.handles.insert(h); });
    EXPECT_EQ(g.Decide(7), Action::kEager);
    EXPECT_EQ(g.Decide(7), Action::kCapture);
    g.Store(7, Handle(1));
    EXPECT_EQ(g.Decide(7), Action::kReplay);
    EXPECT_EQ(g.Graph(7), Handle(1));
    EXPECT_EQ(g.Decide(0), Action::kEager);
    EXPECT_EQ(g.Decide(0), Action::kEager);
    EXPECT_EQ(g.n_graphs(), 1u);
  }
  EXPECT_EQ(d.handles, std::multiset<void*>{Handle(1)});  // destroyed with the owner
}

TEST(StepGraphs, FailedCaptureIsRetried) {
  StepGraphs g(4, [](void*) {});
  EXPECT_EQ(g.Decide(3), Action::kEager);
  EXPECT_EQ(g.Decide(3), Action::kCapture);
  g.Store(3, nullptr);
  EXPECT_EQ(g.Decide(3), Action::kCapture);
}

TEST(StepGraphs, InvalidateDropsGraphsAndHistory) {
  Destroyed d;
  StepGraphs g(4, [&](void* h) { d.handles.insert(h); });
  g.Decide(1);
  g.Decide(1);
  g.Store(1, Handle(1));
  g.Invalidate();
  EXPECT_EQ(d.handles.count(Handle(1)), 1u);
  EXPECT_EQ(g.Decide(1), Action::kEager);  // sizes buffers again before capturing
  EXPECT_EQ(g.n_graphs(), 0u);
}

TEST(StepGraphs, EvictsTheOldestKey) {
  Destroyed d;
  StepGraphs g(2, [&](void* h) { d.handles.insert(h); });
  for (uint64_t k : {1, 2}) {
    g.Decide(k);
    g.Decide(k);
    g.Store(k, Handle(static_cast<int>(k)));
  }
  EXPECT_EQ(g.Decide(3), Action::kEager);
  EXPECT_EQ(d.handles.count(Handle(1)), 1u);
  EXPECT_EQ(g.Graph(1), nullptr);
  EXPECT_EQ(g.Graph(2), Handle(2));
  g.Store(1, Handle(9));  // a key dropped meanwhile: its graph is handed back
  EXPECT_EQ(d.handles.count(Handle(9)), 1u);
}

}  // namespace
}  // namespace parapet::engine::cuda
