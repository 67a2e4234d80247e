// The index benchmark's peers (bench/ann_peers.h): hnswlib and FAISS IndexHNSWFlat behind extern "C"
// functions. C++ lives only here, in bench/.
#include "ann_peers.h"

#include <atomic>
#include <cstdio>
#include <exception>
#include <memory>
#include <thread>
#include <vector>

#include <faiss/IndexHNSW.h>
#include <hnswlib/hnswlib.h>
#include <omp.h>

struct ann_peer {
    ann_peer_lib lib;
    uint32_t dim;
    std::unique_ptr<hnswlib::SpaceInterface<float>> space;
    std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw;
    std::unique_ptr<faiss::IndexHNSWFlat> faiss;
    std::vector<float> dist;
    std::vector<faiss::Index::idx_t> ids;
};

extern "C" int ann_peer_available(ann_peer_lib lib) {
    return lib == ANN_PEER_HNSWLIB || lib == ANN_PEER_FAISS;
}

extern "C" const char *ann_peer_name(ann_peer_lib lib) {
    return lib == ANN_PEER_HNSWLIB ? "hnswlib" : lib == ANN_PEER_FAISS ? "faiss" : "?";
}

extern "C" ann_peer *ann_peer_create(ann_peer_lib lib, uint32_t dim, ann_peer_metric metric, uint32_t m,
                                     uint32_t ef_construction, uint32_t max_elements) {
    try {
        auto p = std::make_unique<ann_peer>();
        p->lib = lib;
        p->dim = dim;
        if (lib == ANN_PEER_HNSWLIB) {
            if (metric == ANN_PEER_L2) p->space = std::make_unique<hnswlib::L2Space>(dim);
            else p->space = std::make_unique<hnswlib::InnerProductSpace>(dim);
            p->hnsw = std::make_unique<hnswlib::HierarchicalNSW<float>>(p->space.get(), max_elements, m, ef_construction);
        } else {
            omp_set_num_threads(1);
            p->faiss = std::make_unique<faiss::IndexHNSWFlat>(
                (int)dim, (int)m, metric == ANN_PEER_L2 ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT);
            p->faiss->hnsw.efConstruction = (int)ef_construction;
        }
        return p.release();
    } catch (const std::exception &e) {
        std::fprintf(stderr, "ann_peers: %s: %s\n", ann_peer_name(lib), e.what());
        return nullptr;
    }
}

extern "C" int ann_peer_add(ann_peer *p, const float *data, uint32_t n, uint64_t first) {
    try {
        if (p->hnsw) {
            for (uint32_t i = 0; i < n; i++) p->hnsw->addPoint(data + (size_t)i * p->dim, first + i);
        } else {
            // FAISS labels are insertion positions; the benchmark adds 0..n-1 in order.
            if (first != (uint64_t)p->faiss->ntotal) return -1;
            p->faiss->add((faiss::Index::idx_t)n, data);
        }
        return 0;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "ann_peers: %s add: %s\n", ann_peer_name(p->lib), e.what());
        return -1;
    }
}

extern "C" int ann_peer_add_parallel(ann_peer *p, const float *data, uint32_t n, uint64_t first, uint32_t threads) {
    if (threads <= 1) return ann_peer_add(p, data, n, first);
    if (!p->hnsw) {
        omp_set_num_threads((int)threads);
        int rc = ann_peer_add(p, data, n, first);
        omp_set_num_threads(1);
        return rc;
    }
    std::atomic<uint32_t> next{0};
    std::atomic<bool> failed{false};
    auto work = [&] {
        try {
            for (uint32_t i; !failed.load(std::memory_order_relaxed) && (i = next.fetch_add(1)) < n;)
                p->hnsw->addPoint(data + (size_t)i * p->dim, first + i);
        } catch (const std::exception &e) {
            std::fprintf(stderr, "ann_peers: hnswlib add: %s\n", e.what());
            failed = true;
        }
    };
    std::vector<std::thread> pool;
    try {
        pool.reserve(threads - 1);
        for (uint32_t t = 1; t < threads; t++) pool.emplace_back(work);
    } catch (const std::exception &e) { /* fewer threads than asked: stop, and join those started */
        std::fprintf(stderr, "ann_peers: hnswlib threads: %s\n", e.what());
        failed = true;
    }
    work();
    for (auto &t : pool) t.join();
    return failed ? -1 : 0;
}

extern "C" void ann_peer_set_ef(ann_peer *p, uint32_t ef_search) {
    if (p->hnsw) p->hnsw->setEf(ef_search);
    else p->faiss->hnsw.efSearch = (int)ef_search;
}

extern "C" uint32_t ann_peer_search(ann_peer *p, const float *q, uint32_t k, uint64_t *labels) {
    try {
        if (p->hnsw) {
            auto top = p->hnsw->searchKnn(q, k);
            uint32_t n = (uint32_t)top.size();
            for (uint32_t i = n; i > 0; i--) {
                labels[i - 1] = top.top().second;
                top.pop();
            }
            return n;
        }
        p->dist.resize(k);
        p->ids.resize(k);
        p->faiss->search(1, q, (faiss::Index::idx_t)k, p->dist.data(), p->ids.data());
        uint32_t n = 0;
        for (uint32_t i = 0; i < k; i++)
            if (p->ids[i] >= 0) labels[n++] = (uint64_t)p->ids[i];
        return n;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "ann_peers: %s search: %s\n", ann_peer_name(p->lib), e.what());
        return 0;
    }
}

extern "C" size_t ann_peer_bytes(const ann_peer *p) {
    if (p->hnsw) {
        const auto &h = *p->hnsw;
        size_t bytes = h.max_elements_ * h.size_data_per_element_;
        size_t n = h.cur_element_count;
        for (size_t i = 0; i < n; i++) bytes += (size_t)h.element_levels_[i] * h.size_links_per_element_;
        return bytes;
    }
    const auto &f = *p->faiss;
    const auto &g = f.hnsw;
    return (size_t)f.ntotal * f.d * sizeof(float) + g.neighbors.size() * sizeof(g.neighbors[0]) +
           g.offsets.size() * sizeof(g.offsets[0]) + g.levels.size() * sizeof(g.levels[0]);
}

extern "C" void ann_peer_destroy(ann_peer *p) {
    delete p;
}
