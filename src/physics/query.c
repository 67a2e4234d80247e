/* Spatial queries on the last step's grid (radius, box, k-nearest, ray) and the static obstacle
 * boxes that rays also test. Read-only and allocation-free, so any number may run at once. */
#include "physics/physics_internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* Query cell ranges are widened by this fraction so float rounding in the exact tests can never
 * accept a collider in a cell the range left out. */
#define QUERY_SAFETY (1.0 / 512.0)

static const aw_spatial_filter no_filter = {0};

static inline bool passes(const aw_spatial_filter *f, uint32_t layer, aw_entity e) {
    if (f->mask && !(layer & f->mask)) return false;
    for (uint32_t i = 0; i < f->exclude_count; i++)
        if (f->exclude[i] == e) return false;
    return true;
}

static aw_status check_filter(const aw_spatial_filter *f, const char *fn) {
    if (f->exclude_count && !f->exclude) return aw_error(AW_ERR_INVALID_ARG, "%s: exclude_count without exclude", fn);
    return AW_OK;
}

static inline uint32_t cell_at(double v, double lo, double inv, uint32_t n) {
    return phys_cell(v, lo, inv, n, NULL);
}

/* Cells covering [x0, x1] x [z0, z1] (clamped, so colliders kept in border cells are covered). */
typedef struct cell_rect {
    uint32_t x0, x1, y0, y1;
} cell_rect;

static cell_rect rect_of(const aw_physics *p, double x0, double x1, double z0, double z1) {
    return (cell_rect){cell_at(x0, p->min_x, p->inv_cell, p->width), cell_at(x1, p->min_x, p->inv_cell, p->width),
                       cell_at(z0, p->min_z, p->inv_cell, p->height), cell_at(z1, p->min_z, p->inv_cell, p->height)};
}

/* ---- radius and box */

typedef bool (*slot_test)(const aw_physics *p, uint32_t s, const void *q);

typedef struct sphere_q {
    float x, y, z, radius;
    bool centers;
} sphere_q;

static bool test_sphere(const aw_physics *p, uint32_t s, const void *arg) {
    const sphere_q *q = arg;
    float dx = p->bx[s] - q->x, dy = p->by[s] - q->y, dz = p->bz[s] - q->z;
    float rr = q->centers ? q->radius : q->radius + p->br[s];
    return dx * dx + dy * dy + dz * dz <= rr * rr;
}

typedef struct box_q {
    aw_aabb b;
    bool centers;
} box_q;

static inline float axis_gap(float v, float lo, float hi) {
    return v < lo ? lo - v : (v > hi ? v - hi : 0.0f);
}

static bool test_box(const aw_physics *p, uint32_t s, const void *arg) {
    const box_q *q = arg;
    float gx = axis_gap(p->bx[s], q->b.min.x, q->b.max.x), gy = axis_gap(p->by[s], q->b.min.y, q->b.max.y);
    float gz = axis_gap(p->bz[s], q->b.min.z, q->b.max.z);
    if (q->centers) return gx == 0.0f && gy == 0.0f && gz == 0.0f;
    return gx * gx + gy * gy + gz * gz <= p->br[s] * p->br[s];
}

static uint32_t collect(const aw_physics *p, cell_rect c, slot_test test, const void *q, const aw_spatial_filter *f,
                        aw_entity *out, uint32_t capacity) {
    uint32_t n = 0;
    if (p->n_small) {
        for (uint32_t y = c.y0; y <= c.y1; y++) {
            uint32_t b = p->cell_start[y * p->width + c.x0], e = p->cell_start[y * p->width + c.x1 + 1];
            for (uint32_t s = b; s < e; s++) {
                if (!test(p, s, q) || !passes(f, p->blayer[s], phys_slot_entity(p, s))) continue;
                if (n < capacity) out[n] = phys_slot_entity(p, s);
                n++;
            }
        }
    }
    for (uint32_t s = p->n_small; s < p->n_valid; s++) {
        if (!test(p, s, q) || !passes(f, p->blayer[s], phys_slot_entity(p, s))) continue;
        if (n < capacity) out[n] = phys_slot_entity(p, s);
        n++;
    }
    return n;
}

aw_status aw_physics_query_radius(const aw_physics *p, aw_vec3 center, float radius, const aw_spatial_filter *filter,
                                  aw_entity *out, uint32_t capacity, uint32_t *out_count) {
    phys_note_entity_reads(p);
    if (out_count) *out_count = 0;
    if (!p || !out_count || (capacity && !out))
        return aw_error(AW_ERR_INVALID_ARG, "aw_physics_query_radius: physics, out_count and out are required");
    if (!isfinite(center.x) || !isfinite(center.y) || !isfinite(center.z) || !isfinite(radius) || radius < 0)
        return aw_error(AW_ERR_INVALID_ARG, "aw_physics_query_radius: centre and radius must be finite, radius >= 0");
    const aw_spatial_filter *f = filter ? filter : &no_filter;
    if (check_filter(f, "aw_physics_query_radius")) return aw_last_status();
    if (!p->n_valid) return AW_OK;
    sphere_q q = {center.x, center.y, center.z, radius, (f->flags & AW_QUERY_CENTERS) != 0};
    double ext = ((double)radius + (q.centers ? 0.0 : p->small_r_max) + p->margin) * (1.0 + QUERY_SAFETY);
    cell_rect c = rect_of(p, center.x - ext, center.x + ext, center.z - ext, center.z + ext);
    *out_count = collect(p, c, test_sphere, &q, f, out, capacity);
    return AW_OK;
}

aw_status aw_physics_query_aabb(const aw_physics *p, aw_aabb box, const aw_spatial_filter *filter, aw_entity *out,
                                uint32_t capacity, uint32_t *out_count) {
    phys_note_entity_reads(p);
    if (out_count) *out_count = 0;
    if (!p || !out_count || (capacity && !out))
        return aw_error(AW_ERR_INVALID_ARG, "aw_physics_query_aabb: physics, out_count and out are required");
    float v[] = {box.min.x, box.min.y, box.min.z, box.max.x, box.max.y, box.max.z};
    for (int i = 0; i < 6; i++)
        if (!isfinite(v[i])) return aw_error(AW_ERR_INVALID_ARG, "aw_physics_query_aabb: box is not finite");
    if (box.min.x > box.max.x || box.min.y > box.max.y || box.min.z > box.max.z)
        return aw_error(AW_ERR_INVALID_ARG, "aw_physics_query_aabb: box min exceeds max");
    const aw_spatial_filter *f = filter ? filter : &no_filter;
    if (check_filter(f, "aw_physics_query_aabb")) return aw_last_status();
    if (!p->n_valid) return AW_OK;
    box_q q = {box, (f->flags & AW_QUERY_CENTERS) != 0};
    double ext = ((q.centers ? 0.0 : p->small_r_max) + p->margin) * (1.0 + QUERY_SAFETY);
    double sx = (fabs((double)box.min.x) + fabs((double)box.max.x)) * 1e-7, sz = (fabs((double)box.min.z) + fabs((double)box.max.z)) * 1e-7;
    cell_rect c = rect_of(p, box.min.x - ext - sx, box.max.x + ext + sx, box.min.z - ext - sz, box.max.z + ext + sz);
    *out_count = collect(p, c, test_box, &q, f, out, capacity);
    return AW_OK;
}

/* ---- k nearest */

typedef struct knn {
    aw_physics_hit *out; /* distance holds the squared distance until the end */
    uint32_t n, k;
    float max_d2;
} knn;

static inline bool knn_before(float d2, aw_entity e, const aw_physics_hit *h) {
    return d2 < h->distance || (d2 == h->distance && e < h->entity);
}

static void knn_offer(knn *q, const aw_physics *p, uint32_t s, aw_vec3 pt, const aw_spatial_filter *f) {
    float dx = p->bx[s] - pt.x, dy = p->by[s] - pt.y, dz = p->bz[s] - pt.z;
    float d2 = dx * dx + dy * dy + dz * dz;
    if (d2 > q->max_d2) return;
    aw_entity e = phys_slot_entity(p, s);
    if (q->n == q->k && !knn_before(d2, e, &q->out[q->n - 1])) return;
    if (!passes(f, p->blayer[s], e)) return;
    uint32_t at = q->n < q->k ? q->n++ : q->n - 1;
    while (at > 0 && knn_before(d2, e, &q->out[at - 1])) {
        q->out[at] = q->out[at - 1];
        at--;
    }
    q->out[at] = (aw_physics_hit){.entity = e, .distance = d2};
}

static void knn_run(knn *q, const aw_physics *p, uint32_t y, uint32_t x0, uint32_t x1, aw_vec3 pt,
                    const aw_spatial_filter *f) {
    const uint32_t *cs = p->cell_start;
    uint32_t c0 = y * p->width + x0, c1 = y * p->width + x1;
    if (!f->mask || !p->has_cell_layers) { /* no layer to skip by (the union is not built) */
        for (uint32_t s = cs[c0], e = cs[c1 + 1]; s < e; s++) knn_offer(q, p, s, pt, f);
        return;
    }
    for (uint32_t c = c0; c <= c1; c++) /* cells holding none of the asked layers: nothing to offer */
        if (p->cell_layers[c] & f->mask)
            for (uint32_t s = cs[c], e = cs[c + 1]; s < e; s++) knn_offer(q, p, s, pt, f);
}

static inline double sq(double v) {
    return v * v;
}

/* Distance along one axis from v to cell c's span, less what the response may have moved anything
 * on that axis since the build; border cells reach to infinity, since they keep the colliders
 * clamped into them. */
static inline double axis_cell_gap(const aw_physics *p, double v, double lo, int64_t c, int64_t n) {
    double c0 = lo + (double)c * p->cell, c1 = c0 + p->cell, g = 0.0;
    if (c > 0 && v < c0) g = c0 - v;
    else if (c < n - 1 && v > c1) g = v - c1;
    g -= p->margin;
    return g > 0.0 ? g : 0.0;
}

/* Squared reach, in the xz plane, of a cell that may still hold an accepted collider: the k-th
 * distance so far (or the query's cap), widened by the rounding safety. It only shrinks as answers
 * come in, so a value taken at the start of a ring stays conservative for the whole ring. */
static double knn_reach2(const knn *q) {
    float lim2 = q->max_d2;
    if (q->n == q->k && q->out[q->k - 1].distance < lim2) lim2 = q->out[q->k - 1].distance;
    if (isinf(lim2)) return INFINITY;
    return (double)lim2 / sq(1.0 - QUERY_SAFETY);
}

aw_status aw_physics_query_nearest(const aw_physics *p, aw_vec3 point, uint32_t k, float max_distance,
                                   const aw_spatial_filter *filter, aw_physics_hit *out, uint32_t *out_count) {
    phys_note_entity_reads(p);
    if (out_count) *out_count = 0;
    if (!p || !out_count || (k && !out))
        return aw_error(AW_ERR_INVALID_ARG, "aw_physics_query_nearest: physics, out_count and out are required");
    if (!isfinite(point.x) || !isfinite(point.y) || !isfinite(point.z) || !isfinite(max_distance) || max_distance < 0)
        return aw_error(AW_ERR_INVALID_ARG, "aw_physics_query_nearest: point and max_distance must be finite, >= 0");
    const aw_spatial_filter *f = filter ? filter : &no_filter;
    if (check_filter(f, "aw_physics_query_nearest")) return aw_last_status();
    if (!k || !p->n_valid) return AW_OK;
    knn q = {.out = out, .k = k, .max_d2 = max_distance > 0 ? max_distance * max_distance : INFINITY};
    for (uint32_t s = p->n_small; s < p->n_valid; s++) knn_offer(&q, p, s, point, f);
    if (p->n_small) {
        int64_t w = p->width, h = p->height;
        int64_t qx = cell_at(point.x, p->min_x, p->inv_cell, p->width);
        int64_t qy = cell_at(point.z, p->min_z, p->inv_cell, p->height);
        int64_t rings = qx > w - 1 - qx ? qx : w - 1 - qx;
        if (qy > rings) rings = qy;
        if (h - 1 - qy > rings) rings = h - 1 - qy;
        for (int64_t d = 0; d <= rings; d++) {
            /* Ring d lies at least d - 1 whole cells away on x or z (clamping only brings cells
             * closer), less what the response moved anything since the build. */
            double bound = ((double)(d - 1) * p->cell - p->margin) * (1.0 - QUERY_SAFETY);
            if (bound > 0) {
                double b2 = bound * bound;
                if (b2 > q.max_d2) break;
                if (q.n == k && b2 > q.out[k - 1].distance) break;
            }
            /* Cells of the ring beyond the reach are skipped: the square's corners, and whole rows
             * once the k-th distance has shrunk. */
            double reach2 = knn_reach2(&q);
            double gl = qx - d >= 0 ? axis_cell_gap(p, point.x, p->min_x, qx - d, w) : 0.0;
            double gr = qx + d < w ? axis_cell_gap(p, point.x, p->min_x, qx + d, w) : 0.0;
            int64_t x0 = qx - d < 0 ? 0 : qx - d, x1 = qx + d > w - 1 ? w - 1 : qx + d;
            int64_t y0 = qy - d < 0 ? 0 : qy - d, y1 = qy + d > h - 1 ? h - 1 : qy + d;
            for (int64_t y = y0; y <= y1; y++) {
                double gz = axis_cell_gap(p, point.z, p->min_z, y, h), gz2 = gz * gz;
                if (gz2 > reach2) continue;
                if (y == qy - d || y == qy + d) {
                    int64_t a = x0, b = x1;
                    while (a <= b && sq(axis_cell_gap(p, point.x, p->min_x, a, w)) + gz2 > reach2) a++;
                    while (b > a && sq(axis_cell_gap(p, point.x, p->min_x, b, w)) + gz2 > reach2) b--;
                    if (a <= b) knn_run(&q, p, (uint32_t)y, (uint32_t)a, (uint32_t)b, point, f);
                } else {
                    if (qx - d >= 0 && gl * gl + gz2 <= reach2)
                        knn_run(&q, p, (uint32_t)y, (uint32_t)(qx - d), (uint32_t)(qx - d), point, f);
                    if (qx + d < w && gr * gr + gz2 <= reach2)
                        knn_run(&q, p, (uint32_t)y, (uint32_t)(qx + d), (uint32_t)(qx + d), point, f);
                }
            }
        }
    }
    for (uint32_t i = 0; i < q.n; i++) out[i].distance = sqrtf(out[i].distance);
    *out_count = q.n;
    return AW_OK;
}

/* ---- rays */

typedef struct ray {
    double ox, oy, oz, dx, dy, dz; /* segment: o + t d, t in [0, 1] */
    double best;                    /* fraction of the best hit so far (> 1: none) */
    aw_entity entity;
    int32_t obstacle;
    double nx, ny, nz;
} ray;

static void inside_normal(const ray *r, double *nx, double *ny, double *nz) {
    double len = sqrt(r->dx * r->dx + r->dy * r->dy + r->dz * r->dz);
    if (len > 0) {
        *nx = -r->dx / len;
        *ny = -r->dy / len;
        *nz = -r->dz / len;
    } else {
        *nx = *nz = 0;
        *ny = 1;
    }
}

static void ray_sphere(ray *r, const aw_physics *p, uint32_t s, const aw_spatial_filter *f) {
    double cx = p->bx[s], cy = p->by[s], cz = p->bz[s], rad = p->br[s];
    double mx = r->ox - cx, my = r->oy - cy, mz = r->oz - cz;
    double c = mx * mx + my * my + mz * mz - rad * rad;
    double t, nx, ny, nz;
    if (c <= 0) {
        t = 0;
    } else {
        double a = r->dx * r->dx + r->dy * r->dy + r->dz * r->dz;
        double b = mx * r->dx + my * r->dy + mz * r->dz;
        if (a == 0 || b >= 0) return;
        double disc = b * b - a * c;
        if (disc < 0) return;
        t = (-b - sqrt(disc)) / a;
        if (t > 1 || t < 0) return;
    }
    aw_entity e = phys_slot_entity(p, s);
    if (t > r->best || (t == r->best && (r->obstacle >= 0 || (r->entity && e >= r->entity)))) return;
    if (!passes(f, p->blayer[s], e)) return;
    double hx = r->ox + t * r->dx - cx, hy = r->oy + t * r->dy - cy, hz = r->oz + t * r->dz - cz;
    double len = sqrt(hx * hx + hy * hy + hz * hz);
    if (len > 0) {
        nx = hx / len;
        ny = hy / len;
        nz = hz / len;
    } else {
        inside_normal(r, &nx, &ny, &nz);
    }
    r->best = t;
    r->entity = e;
    r->obstacle = -1;
    r->nx = nx;
    r->ny = ny;
    r->nz = nz;
}

static void ray_box(ray *r, const aw_aabb *b, int32_t index) {
    const double o[3] = {r->ox, r->oy, r->oz}, d[3] = {r->dx, r->dy, r->dz};
    const double lo[3] = {b->min.x, b->min.y, b->min.z}, hi[3] = {b->max.x, b->max.y, b->max.z};
    double t0 = 0, t1 = 1;
    int axis = -1;
    double sign = 0;
    for (int a = 0; a < 3; a++) {
        if (d[a] == 0) {
            if (o[a] < lo[a] || o[a] > hi[a]) return;
            continue;
        }
        double inv = 1.0 / d[a], ta = (lo[a] - o[a]) * inv, tb = (hi[a] - o[a]) * inv;
        double s = -1;
        if (ta > tb) {
            double tmp = ta;
            ta = tb;
            tb = tmp;
            s = 1;
        }
        if (ta > t0) {
            t0 = ta;
            axis = a;
            sign = s;
        }
        if (tb < t1) t1 = tb;
        if (t0 > t1) return;
    }
    if (t0 > r->best || (t0 == r->best && r->obstacle >= 0 && index >= r->obstacle)) return;
    r->best = t0;
    r->entity = AW_ENTITY_NULL;
    r->obstacle = index;
    if (axis < 0) {
        inside_normal(r, &r->nx, &r->ny, &r->nz);
    } else {
        r->nx = axis == 0 ? sign : 0;
        r->ny = axis == 1 ? sign : 0;
        r->nz = axis == 2 ? sign : 0;
    }
}

/* Clips u(t) = u0 + t du to [lo, hi] by narrowing [*t0, *t1]; false if nothing is left. */
static bool clip(double u0, double du, double lo, double hi, double *t0, double *t1) {
    if (du == 0) return u0 >= lo && u0 <= hi;
    double ta = (lo - u0) / du, tb = (hi - u0) / du;
    if (ta > tb) {
        double s = ta;
        ta = tb;
        tb = s;
    }
    if (ta > *t0) *t0 = ta;
    if (tb < *t1) *t1 = tb;
    return *t0 <= *t1;
}

/* Walks the cells a segment crosses (Amanatides-Woo), in grid units over [0, w] x [0, h]
 * widened by `pad` cells; visit() returns false to stop. The walk stops by itself once the
 * best hit comes before the current cell's exit. */
typedef void (*cell_visit)(ray *r, const void *ctx, int64_t cx, int64_t cy);

static void walk(ray *r, const void *ctx, cell_visit visit, double u0, double v0, double du, double dv, int64_t w,
                 int64_t h, int64_t pad) {
    double t0 = 0, t1 = 1;
    if (!clip(u0, du, (double)-pad, (double)(w + pad), &t0, &t1) ||
        !clip(v0, dv, (double)-pad, (double)(h + pad), &t0, &t1))
        return;
    if (r->best <= t0) return;
    int64_t ix = (int64_t)floor(u0 + t0 * du), iy = (int64_t)floor(v0 + t0 * dv);
    int64_t lo_x = -pad, hi_x = w + pad - 1, lo_y = -pad, hi_y = h + pad - 1;
    ix = ix < lo_x ? lo_x : (ix > hi_x ? hi_x : ix);
    iy = iy < lo_y ? lo_y : (iy > hi_y ? hi_y : iy);
    int64_t sx = du > 0 ? 1 : (du < 0 ? -1 : 0), sy = dv > 0 ? 1 : (dv < 0 ? -1 : 0);
    double tmx = sx > 0 ? ((double)(ix + 1) - u0) / du : (sx < 0 ? ((double)ix - u0) / du : INFINITY);
    double tmy = sy > 0 ? ((double)(iy + 1) - v0) / dv : (sy < 0 ? ((double)iy - v0) / dv : INFINITY);
    double tdx = sx ? 1.0 / fabs(du) : INFINITY, tdy = sy ? 1.0 / fabs(dv) : INFINITY;
    for (int64_t guard = 2 * (w + h + 4 * pad) + 8; guard > 0; guard--) {
        visit(r, ctx, ix, iy);
        double exit = tmx < tmy ? tmx : tmy;
        if (r->best <= exit || exit >= t1) return;
        if (tmx < tmy) {
            ix += sx;
            tmx += tdx;
        } else {
            iy += sy;
            tmy += tdy;
        }
        if (ix < lo_x || ix > hi_x || iy < lo_y || iy > hi_y) return;
    }
}

typedef struct grid_visit {
    const aw_physics *p;
    const aw_spatial_filter *f;
    int64_t nb;
} grid_visit;

static void visit_grid(ray *r, const void *arg, int64_t cx, int64_t cy) {
    const grid_visit *g = arg;
    const aw_physics *p = g->p;
    int64_t w = p->width, h = p->height;
    int64_t x0 = cx - g->nb < 0 ? 0 : cx - g->nb, x1 = cx + g->nb > w - 1 ? w - 1 : cx + g->nb;
    if (x0 > x1) return;
    for (int64_t y = cy - g->nb; y <= cy + g->nb; y++) {
        if (y < 0 || y >= h) continue;
        uint32_t b = p->cell_start[y * w + x0], e = p->cell_start[y * w + x1 + 1];
        for (uint32_t s = b; s < e; s++) ray_sphere(r, p, s, g->f);
    }
}

static void visit_obstacles(ray *r, const void *arg, int64_t cx, int64_t cy) {
    const phys_obstacles *o = arg;
    uint32_t c = (uint32_t)(cy * (int64_t)o->width + cx);
    for (uint32_t i = o->start[c]; i < o->start[c + 1]; i++) ray_box(r, &o->boxes[o->items[i]], (int32_t)o->items[i]);
}

bool aw_physics_raycast(const aw_physics *p, aw_vec3 from, aw_vec3 to, const aw_spatial_filter *filter,
                        aw_ray_hit *hit) {
    if (!p) return false;
    if (!isfinite(from.x) || !isfinite(from.y) || !isfinite(from.z) || !isfinite(to.x) || !isfinite(to.y) ||
        !isfinite(to.z)) {
        aw_error(AW_ERR_INVALID_ARG, "aw_physics_raycast: segment is not finite");
        return false;
    }
    const aw_spatial_filter *f = filter ? filter : &no_filter;
    if (check_filter(f, "aw_physics_raycast")) return false;
    ray r = {.ox = from.x, .oy = from.y, .oz = from.z, .dx = (double)to.x - from.x, .dy = (double)to.y - from.y,
             .dz = (double)to.z - from.z, .best = 2.0, .obstacle = -1};
    const phys_obstacles *o = &p->obstacles;
    if (o->count && !(f->flags & AW_RAY_SKIP_OBSTACLES)) {
        walk(&r, o, visit_obstacles, (r.ox - o->min_x) * o->inv_cell, (r.oz - o->min_z) * o->inv_cell,
             r.dx * o->inv_cell, r.dz * o->inv_cell, o->width, o->height, 0);
    }
    if (p->n_valid && !(f->flags & AW_RAY_SKIP_ENTITIES)) {
        /* Colliders that cells cannot bound are tested outright: large ones and those whose
         * centre was outside the grid. Finding them first also lets the walk stop earlier. */
        for (uint32_t s = p->n_small; s < p->n_valid; s++) ray_sphere(&r, p, s, f);
        for (uint32_t i = 0; i < p->n_outside; i++) ray_sphere(&r, p, p->outside[i], f);
        if (p->n_small) {
            grid_visit g = {.p = p, .f = f, .nb = 1 + (int64_t)ceil(p->margin * p->inv_cell)};
            walk(&r, &g, visit_grid, (r.ox - p->min_x) * p->inv_cell, (r.oz - p->min_z) * p->inv_cell,
                 r.dx * p->inv_cell, r.dz * p->inv_cell, p->width, p->height, g.nb);
        }
    }
    if (r.best > 1.0) return false;
    if (hit) {
        *hit = (aw_ray_hit){
            .entity = r.entity, .obstacle = r.obstacle, .fraction = (float)r.best,
            .point = {(float)(r.ox + r.best * r.dx), (float)(r.oy + r.best * r.dy), (float)(r.oz + r.best * r.dz)},
            .normal = {(float)r.nx, (float)r.ny, (float)r.nz}};
    }
    return true;
}

bool aw_physics_line_of_sight(const aw_physics *p, aw_vec3 from, aw_vec3 to, const aw_spatial_filter *filter) {
    return !aw_physics_raycast(p, from, to, filter, NULL);
}

/* ---- obstacles */

void phys_obstacles_free(aw_physics *p) {
    phys_obstacles *o = &p->obstacles;
    aw_free(p->alloc, o->boxes, (size_t)o->count * sizeof(aw_aabb));
    aw_free(p->alloc, o->items, (size_t)o->item_count * sizeof(uint32_t));
    aw_free(p->alloc, o->start, ((size_t)o->width * o->height + 1) * sizeof(uint32_t));
    memset(o, 0, sizeof *o);
}

static uint64_t box_cells(const phys_obstacles *o, const aw_aabb *b, uint32_t *x0, uint32_t *x1, uint32_t *y0,
                          uint32_t *y1) {
    *x0 = cell_at(b->min.x, o->min_x, o->inv_cell, o->width);
    *x1 = cell_at(b->max.x, o->min_x, o->inv_cell, o->width);
    *y0 = cell_at(b->min.z, o->min_z, o->inv_cell, o->height);
    *y1 = cell_at(b->max.z, o->min_z, o->inv_cell, o->height);
    return (uint64_t)(*x1 - *x0 + 1) * (*y1 - *y0 + 1);
}

aw_status aw_physics_set_obstacles(aw_physics *p, const aw_aabb *boxes, uint32_t count) {
    if (!p || (count && !boxes)) return aw_error(AW_ERR_INVALID_ARG, "aw_physics_set_obstacles: bad arguments");
    double lx = INFINITY, lz = INFINITY, hx = -INFINITY, hz = -INFINITY;
    for (uint32_t i = 0; i < count; i++) {
        const aw_aabb *b = &boxes[i];
        float v[] = {b->min.x, b->min.y, b->min.z, b->max.x, b->max.y, b->max.z};
        for (int k = 0; k < 6; k++)
            if (!isfinite(v[k])) return aw_error(AW_ERR_INVALID_ARG, "aw_physics_set_obstacles: box %u is not finite", i);
        if (b->min.x > b->max.x || b->min.y > b->max.y || b->min.z > b->max.z)
            return aw_error(AW_ERR_INVALID_ARG, "aw_physics_set_obstacles: box %u has min > max", i);
        lx = fmin(lx, b->min.x);
        lz = fmin(lz, b->min.z);
        hx = fmax(hx, b->max.x);
        hz = fmax(hz, b->max.z);
    }
    phys_obstacles o = {0};
    if (count) {
        double ex = hx - lx, ez = hz - lz, pad = 1e-3 * (fabs(lx) + fabs(hx) + fabs(lz) + fabs(hz)) + 1e-3;
        ex += pad;
        ez += pad;
        o.min_x = lx;
        o.min_z = lz;
        /* About two cells per box, coarsened until boxes spanning many cells stay cheap. */
        double cell = sqrt(ex * ez / (2.0 * count));
        if (cell < ex / 4096 || cell < ez / 4096) cell = fmax(ex, ez) / 4096;
        uint64_t items = 0;
        for (;;) {
            o.cell = cell;
            o.inv_cell = 1.0 / cell;
            o.width = (uint32_t)fmax(1.0, ceil(ex / cell));
            o.height = (uint32_t)fmax(1.0, ceil(ez / cell));
            items = 0;
            uint32_t x0, x1, y0, y1;
            for (uint32_t i = 0; i < count; i++) items += box_cells(&o, &boxes[i], &x0, &x1, &y0, &y1);
            if (items <= 8ull * count + 4096 && (uint64_t)o.width * o.height <= (1u << 22)) break;
            cell *= 1.5;
        }
        o.count = count;
        o.item_count = (uint32_t)items;
        size_t cells = (size_t)o.width * o.height;
        o.boxes = aw_alloc(p->alloc, count * sizeof(aw_aabb), _Alignof(aw_aabb));
        o.items = aw_alloc(p->alloc, items * sizeof(uint32_t), 4);
        o.start = aw_alloc(p->alloc, (cells + 1) * sizeof(uint32_t), 4);
        if (!o.boxes || !o.items || !o.start) {
            aw_free(p->alloc, o.boxes, count * sizeof(aw_aabb));
            aw_free(p->alloc, o.items, items * sizeof(uint32_t));
            aw_free(p->alloc, o.start, (cells + 1) * sizeof(uint32_t));
            return aw_error(AW_ERR_OUT_OF_MEMORY, "aw_physics_set_obstacles: out of memory for %u boxes", count);
        }
        memcpy(o.boxes, boxes, count * sizeof(aw_aabb));
        memset(o.start, 0, (cells + 1) * sizeof(uint32_t));
        uint32_t x0, x1, y0, y1;
        for (uint32_t i = 0; i < count; i++) {
            box_cells(&o, &boxes[i], &x0, &x1, &y0, &y1);
            for (uint32_t y = y0; y <= y1; y++)
                for (uint32_t x = x0; x <= x1; x++) o.start[y * o.width + x + 1]++;
        }
        for (size_t c = 1; c <= cells; c++) o.start[c] += o.start[c - 1];
        /* Fill by box index, so each cell lists its boxes in ascending order. */
        for (uint32_t i = 0; i < count; i++) {
            box_cells(&o, &boxes[i], &x0, &x1, &y0, &y1);
            for (uint32_t y = y0; y <= y1; y++)
                for (uint32_t x = x0; x <= x1; x++) o.items[o.start[y * o.width + x]++] = i;
        }
        memmove(o.start + 1, o.start, cells * sizeof(uint32_t));
        o.start[0] = 0;
    }
    phys_obstacles_free(p);
    p->obstacles = o;
    return AW_OK;
}
