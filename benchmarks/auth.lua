-- wrk: send the benchmark's API key on every request.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("NEXUS_BENCH_API_KEY")
