// Submitting requests: the std::future path (outputs and errors), the callback path (called
// exactly once, its callable destroyed exactly once, never for a refused submission, exceptions
// it throws are swallowed), cancelling through Pending (queued and running), a blocking call from
// inside a callback, and submissions from several threads at once.
#include "common.hpp"

#include <atomic>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>

using inferkit::Error;
using inferkit::Model;
using inferkit::Outputs;
using inferkit::Request;
using inferkit::Result;

namespace {

// Counts calls and remembers the last result's status; its token counts live copies of the
// callable (use_count 1: every copy inferkit held was destroyed).
struct Tally {
  std::mutex mu;
  std::condition_variable cv;
  int calls = 0;
  int ok = 0;
  inferkit_status last = INFERKIT_STATUS_PANIC;
  std::string last_message;
  std::vector<float> last_y;

  void record(Result &&r) {
    std::lock_guard<std::mutex> lock(mu);
    ++calls;
    if (Outputs *o = std::get_if<Outputs>(&r)) {
      ++ok;
      last = INFERKIT_STATUS_OK;
      last_y = o->copy<float>(0);
    } else {
      const Error &e = std::get<Error>(r);
      last = e.code();
      last_message = e.what();
    }
    cv.notify_all();
  }
  bool wait(int n, std::chrono::seconds limit) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, limit, [&] { return calls >= n; });
  }
};

Request mlp_request(const Model &model, const ikt::Mlp &mlp, std::size_t rows = 3) {
  Request req(model);
  req.add_tensor_copy("x", mlp.x_rows(rows), {static_cast<std::int64_t>(rows), 16});
  return req;
}

// A loop.onnx request that runs for minutes unless stopped, copied inputs.
Request endless(const Model &loop, std::chrono::milliseconds timeout) {
  Request req(loop);
  req.add_tensor_copy("n", {std::int64_t{1000000000}}, {}).add_tensor_copy("x", {0.0f}, {1}).set_timeout(timeout);
  return req;
}

inferkit::ModelOptions one_session() {
  inferkit::ModelOptions opts;
  opts.set_instances(1);
  return opts;
}

}  // namespace

TEST(Submit, FutureGetsTheOutputs) {
  const ikt::Mlp mlp;
  const Model model = Model::open(ikt::fixture("mlp.onnx"));
  std::vector<float> x = mlp.x();
  Request req(model);
  req.add_tensor("x", x, {3, 16});  // borrowed: submission copies it
  inferkit::Submitted s = req.submit();
  std::fill(x.begin(), x.end(), 0.0f);
  req = Request();  // the submitted request goes on without it
  ASSERT_TRUE(s.future.valid());
  const Outputs out = s.future.get();
  EXPECT_TRUE(ikt::close(out.copy<float>("y"), mlp.y()));
  EXPECT_TRUE(s.pending.is_done());
  EXPECT_FALSE(s.pending.cancel());  // done: nothing to cancel
}

TEST(Submit, FutureGetsTheError) {
  const ikt::Mlp mlp;
  const Model model = Model::open(ikt::fixture("mlp.onnx"));
  Request req = mlp_request(model, mlp);
  // Accepted, then failed: a deadline already passed goes to the future.
  req.set_deadline(std::chrono::steady_clock::now() - std::chrono::milliseconds(1));
  inferkit::Submitted s = req.submit();
  EXPECT_IK_ERROR(INFERKIT_STATUS_DEADLINE_EXCEEDED, "deadline", static_cast<void>(s.future.get()));
  EXPECT_TRUE(s.pending.is_done());
  // Refused at submission: thrown by submit itself, no future.
  req.clear();
  EXPECT_IK_ERROR(INFERKIT_STATUS_MISSING_INPUT, "`x`", static_cast<void>(req.submit()));
  req.clear_deadline().add_tensor_copy("x", mlp.x(), {3, 16}).set_outputs({"nope"});
  EXPECT_IK_ERROR(INFERKIT_STATUS_UNKNOWN_OUTPUT, "nope", static_cast<void>(req.submit()));
}

TEST(Submit, CallbackIsCalledExactlyOnceAndFreed) {
  const ikt::Mlp mlp;
  const Model model = Model::open(ikt::fixture("mlp.onnx"));
  const Request req = mlp_request(model, mlp);
  Tally tally;
  auto token = std::make_shared<int>(0);
  std::vector<inferkit::Pending> pendings;
  for (int i = 0; i < 20; ++i)
    pendings.push_back(req.submit([&tally, token](Result r) { tally.record(std::move(r)); }));
  ASSERT_TRUE(tally.wait(20, std::chrono::seconds(30)));
  for (const inferkit::Pending &p : pendings) EXPECT_TRUE(p.is_done());
  EXPECT_EQ(tally.calls, 20);
  EXPECT_EQ(tally.ok, 20);
  EXPECT_TRUE(ikt::close(tally.last_y, mlp.y()));
  EXPECT_TRUE(ikt::wait_until([&] { return token.use_count() == 1; }, std::chrono::seconds(10)))
      << token.use_count() - 1 << " callables never destroyed";
  // A Pending dropped at once: the request goes on, the callback still comes once.
  req.submit([&tally, token](Result r) { tally.record(std::move(r)); });
  ASSERT_TRUE(tally.wait(21, std::chrono::seconds(30)));
  EXPECT_EQ(tally.calls, 21);
  EXPECT_TRUE(ikt::wait_until([&] { return token.use_count() == 1; }, std::chrono::seconds(10)));
}

TEST(Submit, RefusedSubmissionThrowsAndNeverCalls) {
  const Model model = Model::open(ikt::fixture("mlp.onnx"));
  Request empty(model);
  auto token = std::make_shared<int>(0);
  std::atomic<int> calls{0};
  EXPECT_IK_ERROR(INFERKIT_STATUS_MISSING_INPUT, "`x`", empty.submit([&calls, token](Result) { ++calls; }));
  EXPECT_EQ(calls.load(), 0);
  EXPECT_EQ(token.use_count(), 1) << "the callable of a refused submission was not destroyed";
}

TEST(Submit, ExceptionsFromTheCallbackAreSwallowed) {
  const ikt::Mlp mlp;
  const Model model = Model::open(ikt::fixture("mlp.onnx"));
  const Request req = mlp_request(model, mlp);
  auto token = std::make_shared<int>(0);
  std::atomic<int> calls{0};
  req.submit([&calls, token](Result) {
    ++calls;
    throw std::runtime_error("thrown inside a callback");
  });
  req.submit([&calls, token](Result) {
    ++calls;
    throw 42;  // not even a std::exception
  });
  EXPECT_TRUE(ikt::wait_until([&] { return calls.load() == 2; }, std::chrono::seconds(30)));
  EXPECT_TRUE(ikt::wait_until([&] { return token.use_count() == 1; }, std::chrono::seconds(10)));
  // The model serves as before.
  EXPECT_TRUE(ikt::close(req.run().copy<float>("y"), mlp.y()));
}

TEST(Submit, TwoCallableForm) {
  const ikt::Mlp mlp;
  const Model model = Model::open(ikt::fixture("mlp.onnx"));
  Request req = mlp_request(model, mlp);
  std::promise<std::vector<float>> got;
  std::promise<inferkit_status> failed;
  req.submit([&](Outputs out) { got.set_value(out.copy<float>("y")); },
             [&](const Error &e) { failed.set_value(e.code()); });
  EXPECT_TRUE(ikt::close(got.get_future().get(), mlp.y()));
  req.set_deadline(std::chrono::steady_clock::time_point());
  req.submit([&](Outputs) { got.set_value({}); }, [&](Error e) { failed.set_value(e.code()); });
  EXPECT_EQ(failed.get_future().get(), INFERKIT_STATUS_DEADLINE_EXCEEDED);
}

TEST(Submit, AnyCallable) {
  const ikt::Mlp mlp;
  const Model model = Model::open(ikt::fixture("mlp.onnx"));
  const Request req = mlp_request(model, mlp, 1);
  Tally tally;
  // a std::function
  std::function<void(Result)> fn = [&tally](Result r) { tally.record(std::move(r)); };
  req.submit(fn);
  // a move-only callable
  auto owned = std::make_unique<int>(7);
  req.submit([&tally, p = std::move(owned)](Result &&r) {
    if (*p == 7) tally.record(std::move(r));
  });
  // a function object taking the result by const reference
  struct ByRef {
    Tally *t;
    void operator()(const Result &r) const {
      std::lock_guard<std::mutex> lock(t->mu);
      ++t->calls;
      t->ok += std::holds_alternative<Outputs>(r);
      t->cv.notify_all();
    }
  };
  req.submit(ByRef{&tally});
  ASSERT_TRUE(tally.wait(3, std::chrono::seconds(30)));
  EXPECT_EQ(tally.ok, 3);
}

// loop.onnx with one session: A's blocking run holds it; a request submitted meanwhile waits in
// the queue and is withdrawn by cancel(): its result is CANCELLED, delivered before cancel returns.
TEST(Submit, CancelAQueuedRequest) {
  const Model model = Model::open(ikt::fixture("loop.onnx"), one_session());
  const Request blocker = endless(model, std::chrono::milliseconds(500));
  std::promise<inferkit_status> a_status;
  std::thread a([&] {
    try {
      static_cast<void>(blocker.run());
      a_status.set_value(INFERKIT_STATUS_OK);
    } catch (const Error &e) {
      a_status.set_value(e.code());
    }
  });
  ASSERT_TRUE(ikt::wait_until([&] { return model.stats().idle == 0; }, std::chrono::seconds(10)));
  const Request queued = endless(model, std::chrono::seconds(60));
  inferkit::Submitted s = queued.submit();
  EXPECT_FALSE(s.pending.is_done());
  EXPECT_EQ(model.stats().queued, 1u);
  EXPECT_TRUE(s.pending.cancel());
  EXPECT_TRUE(s.pending.is_done());
  EXPECT_FALSE(s.pending.cancel());  // once
  ASSERT_EQ(s.future.wait_for(std::chrono::seconds(0)), std::future_status::ready);  // delivered already
  EXPECT_IK_ERROR(INFERKIT_STATUS_CANCELLED, "", static_cast<void>(s.future.get()));
  a.join();
  EXPECT_EQ(a_status.get_future().get(), INFERKIT_STATUS_DEADLINE_EXCEEDED);
  EXPECT_EQ(model.stats().requests_run, 1u);  // A's run (stopped); the withdrawn request never ran
}

// The same, but the queued request is cancelled once A's thread has taken it from the queue and
// runs it: cancel() stops the run.
TEST(Submit, CancelARunningRequest) {
  const Model model = Model::open(ikt::fixture("loop.onnx"), one_session());
  const Request blocker = endless(model, std::chrono::milliseconds(300));
  std::thread a([&] {
    try {
      static_cast<void>(blocker.run());
    } catch (const Error &) {
    }
  });
  ASSERT_TRUE(ikt::wait_until([&] { return model.stats().idle == 0; }, std::chrono::seconds(10)));
  const Request second = endless(model, std::chrono::seconds(60));
  inferkit::Submitted s = second.submit();
  ASSERT_TRUE(ikt::wait_until([&] { return model.stats().queued == 0; }, std::chrono::seconds(30)));
  EXPECT_TRUE(ikt::wait_until([&] { return s.pending.cancel() || s.pending.is_done(); }, std::chrono::seconds(10)));
  EXPECT_EQ(s.future.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_IK_ERROR(INFERKIT_STATUS_CANCELLED, "", static_cast<void>(s.future.get()));
  a.join();
  // The session serves the next request.
  Request five(model);
  five.add_tensor_copy("n", {std::int64_t{5}}, {}).add_tensor_copy("x", {0.0f}, {1});
  EXPECT_EQ(five.run().copy<float>(0), std::vector<float>{5.0f});
}

// A blocking run on this thread has no Pending; a CancelToken cancelled from another thread stops
// it, and a cancelled token stays cancelled.
TEST(Submit, CancelTokenStopsABlockingRunOnTheCallingThread) {
  const Model model = Model::open(ikt::fixture("loop.onnx"), one_session());
  const inferkit::CancelToken token;
  Request req = endless(model, std::chrono::seconds(60));
  req.set_cancel_token(token);
  std::thread canceller([&] {
    ikt::wait_until([&] { return model.stats().idle == 0; }, std::chrono::seconds(10));
    token.cancel();
  });
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_IK_ERROR(INFERKIT_STATUS_CANCELLED, "cancelled", static_cast<void>(req.run()));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30));
  canceller.join();
  EXPECT_TRUE(token.is_cancelled());
  EXPECT_IK_ERROR(INFERKIT_STATUS_CANCELLED, "", static_cast<void>(req.run()));
  req.clear_cancel_token();
  Request five(model);
  five.add_tensor_copy("n", {std::int64_t{5}}, {}).add_tensor_copy("x", {0.0f}, {1}).set_cancel_token(inferkit::CancelToken());
  EXPECT_EQ(five.run().copy<float>(0), std::vector<float>{5.0f});
}

// A queue-only submission returns once the request is queued, with the session idle: a helper
// thread runs it. A plain one runs it before it returns.
TEST(Submit, QueueOnlyReturnsBeforeTheRun) {
  const Model model = Model::open(ikt::fixture("loop.onnx"), one_session());
  Request req(model);
  req.add_tensor_copy("n", {std::int64_t{300000}}, {}).add_tensor_copy("x", {0.0f}, {1});
  inferkit::Submitted plain = req.submit();
  EXPECT_TRUE(plain.pending.is_done());
  EXPECT_EQ(plain.future.get().copy<float>(0), std::vector<float>{300000.0f});
  req.set_queue_only();
  inferkit::Submitted queued = req.submit();
  EXPECT_FALSE(queued.pending.is_done());
  ASSERT_EQ(queued.future.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  EXPECT_EQ(queued.future.get().copy<float>(0), std::vector<float>{300000.0f});
  EXPECT_EQ(req.run().copy<float>(0), std::vector<float>{300000.0f});
}

// A blocking run of the same model inside its callback would wait for ever: it throws
// WOULD_DEADLOCK there, and the callback may catch it.
TEST(Submit, BlockingInsideACallbackThrowsWouldDeadlock) {
  const ikt::Mlp mlp;
  const Model model = Model::open(ikt::fixture("mlp.onnx"), one_session());
  const Model other = Model::open(ikt::fixture("mlp_v2.onnx"));
  const Request req = mlp_request(model, mlp, 1);
  const Request other_req = mlp_request(other, mlp, 1);
  std::promise<std::pair<inferkit_status, std::string>> inside;
  std::promise<std::size_t> other_outputs;
  req.submit([&](Result) {
    try {
      static_cast<void>(req.run());
      inside.set_value({INFERKIT_STATUS_OK, ""});
    } catch (const Error &e) {
      inside.set_value({e.code(), e.what()});
    }
    other_outputs.set_value(other_req.run().count());  // another model is fine
  });
  const auto got = inside.get_future().get();
  EXPECT_EQ(got.first, INFERKIT_STATUS_WOULD_DEADLOCK);
  EXPECT_NE(got.second.find("callback"), std::string::npos) << got.second;
  EXPECT_EQ(other_outputs.get_future().get(), 1u);
}

TEST(Submit, ConcurrentSubmissionsWithFutures) {
  const ikt::Mlp mlp;
  inferkit::ModelOptions opts;
  opts.set_instances(2).set_batching({8, std::chrono::microseconds(0), 256, std::chrono::microseconds(0)});
  const Model model = Model::open(ikt::fixture("mlp.onnx"), opts);
  const Request req = mlp_request(model, mlp);
  constexpr int kThreads = 4, kSubmits = 10;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      std::vector<inferkit::Submitted> subs;
      for (int i = 0; i < kSubmits; ++i) subs.push_back(req.submit());
      for (inferkit::Submitted &s : subs) {
        try {
          if (!ikt::close(s.future.get().copy<float>("y"), mlp.y())) ++wrong;
        } catch (const Error &) {
          ++wrong;
        }
      }
    });
  }
  for (std::thread &t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(model.stats().requests_run, static_cast<std::uint64_t>(kThreads * kSubmits));
}

// The submitted request holds the model: every handle may be gone before the result comes.
TEST(Submit, OutlivesModelAndRequest) {
  const ikt::Mlp mlp;
  std::future<Outputs> future;
  {
    const Model model = Model::open(ikt::fixture("mlp.onnx"));
    const Request req = mlp_request(model, mlp);
    future = req.submit().future;
  }
  EXPECT_TRUE(ikt::close(future.get().copy<float>("y"), mlp.y()));
}
