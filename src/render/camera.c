/* Cameras: orbit and top-down helpers, and the view values the renderer and its hooks use
 * (view, projection in Vulkan clip space, frustum planes, basis vectors). Math through cglm. */
#include "render_internal.h"

#include <cglm/cglm.h>
#include <cglm/clipspace/persp_rh_zo.h>
#include <cglm/clipspace/view_rh.h>
#include <math.h>
#include <string.h>

aw_camera aw_camera_orbit(const float target[3], float distance, float yaw, float pitch) {
    aw_camera c = {0};
    float t[3] = {0, 0, 0};
    if (target) memcpy(t, target, sizeof t);
    memcpy(c.target, t, sizeof t);
    /* yaw 0 looks along -z: the camera sits on +z. */
    c.position[0] = t[0] + distance * cosf(pitch) * sinf(yaw);
    c.position[1] = t[1] + distance * sinf(pitch);
    c.position[2] = t[2] + distance * cosf(pitch) * cosf(yaw);
    c.up[1] = 1.0f;
    return c;
}

aw_camera aw_camera_top_down(const float center[3], float height) {
    aw_camera c = {0};
    float t[3] = {0, 0, 0};
    if (center) memcpy(t, center, sizeof t);
    memcpy(c.target, t, sizeof t);
    c.position[0] = t[0];
    c.position[1] = t[1] + height;
    c.position[2] = t[2] + height * 0.02f; /* a slight tilt keeps the view well defined */
    c.up[2] = -1.0f;
    return c;
}

void render_view_compute(const aw_camera *cam, float aspect, render_view *out) {
    vec3 eye = {cam->position[0], cam->position[1], cam->position[2]};
    vec3 center = {cam->target[0], cam->target[1], cam->target[2]};
    vec3 up = {cam->up[0], cam->up[1], cam->up[2]};
    if (up[0] == 0.0f && up[1] == 0.0f && up[2] == 0.0f) up[1] = 1.0f;
    float fov = cam->fov_y > 0.0f ? cam->fov_y : glm_rad(60.0f);
    float near_z = cam->near_z > 0.0f ? cam->near_z : 0.1f;
    float far_z = cam->far_z > 0.0f ? cam->far_z : 1000.0f;
    mat4 view, proj, vp;
    glm_lookat_rh(eye, center, up, view);
    glm_perspective_rh_zo(fov, aspect, near_z, far_z, proj);
    proj[1][1] = -proj[1][1]; /* Vulkan's framebuffer y points down */
    glm_mat4_mul(proj, view, vp);
    memcpy(out->view, view, sizeof out->view);
    memcpy(out->proj, proj, sizeof out->proj);
    memcpy(out->view_proj, vp, sizeof out->view_proj);
    /* Rows of the view matrix are the camera's right, up and backward vectors. */
    for (int k = 0; k < 3; k++) {
        out->right[k] = view[k][0];
        out->up[k] = view[k][1];
        out->forward[k] = -view[k][2];
        out->position[k] = eye[k];
    }
    /* Gribb-Hartmann planes from the rows of view_proj, for 0..1 depth: left, right, bottom, top,
     * near (row 2 alone), far (row 3 - row 2). */
    float row[4][4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) row[i][j] = vp[j][i];
    for (int k = 0; k < 4; k++) {
        out->planes[0][k] = row[3][k] + row[0][k];
        out->planes[1][k] = row[3][k] - row[0][k];
        out->planes[2][k] = row[3][k] + row[1][k];
        out->planes[3][k] = row[3][k] - row[1][k];
        out->planes[4][k] = row[2][k];
        out->planes[5][k] = row[3][k] - row[2][k];
    }
    for (int p = 0; p < 6; p++) {
        float *pl = out->planes[p];
        float len = sqrtf(pl[0] * pl[0] + pl[1] * pl[1] + pl[2] * pl[2]);
        if (len > 0.0f)
            for (int k = 0; k < 4; k++) pl[k] /= len;
    }
    out->near_z = near_z;
    out->far_z = far_z;
}
