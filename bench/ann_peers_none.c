/* bench/ann_peers.h without the peer libraries (hnswlib, FAISS not installed): none is available. */
#include "ann_peers.h"

int ann_peer_available(ann_peer_lib lib) {
    (void)lib;
    return 0;
}
const char *ann_peer_name(ann_peer_lib lib) {
    return lib == ANN_PEER_HNSWLIB ? "hnswlib" : "faiss";
}
ann_peer *ann_peer_create(ann_peer_lib lib, uint32_t dim, ann_peer_metric metric, uint32_t m, uint32_t ef_construction,
                          uint32_t max_elements) {
    (void)lib, (void)dim, (void)metric, (void)m, (void)ef_construction, (void)max_elements;
    return NULL;
}
int ann_peer_add(ann_peer *p, const float *data, uint32_t n, uint64_t first) {
    (void)p, (void)data, (void)n, (void)first;
    return -1;
}
int ann_peer_add_parallel(ann_peer *p, const float *data, uint32_t n, uint64_t first, uint32_t threads) {
    (void)p, (void)data, (void)n, (void)first, (void)threads;
    return -1;
}
void ann_peer_set_ef(ann_peer *p, uint32_t ef_search) {
    (void)p, (void)ef_search;
}
uint32_t ann_peer_search(ann_peer *p, const float *q, uint32_t k, uint64_t *labels) {
    (void)p, (void)q, (void)k, (void)labels;
    return 0;
}
size_t ann_peer_bytes(const ann_peer *p) {
    (void)p;
    return 0;
}
void ann_peer_destroy(ann_peer *p) {
    (void)p;
}
