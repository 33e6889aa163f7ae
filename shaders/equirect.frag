#version 330 core
// One ray per pixel -> (longitude, latitude) -> equirectangular texture(s).
// Conventions as in hallucinator/sphere.py: view space x right, y up, -z forward;
// lon = atan(x, -z) grows to the right, lat = atan(y, |xz|); texture row 0 is the top (lat +90).
// No sphere mesh, so nothing pinches at the poles; s wraps (GL_REPEAT) with linear filtering,
// so there is no seam at +-180 degrees.
//
// Each source (dream, control) is one RGB texture, or 4:2:0 video straight from the decoder
// (Y, U, V planes, or Y + interleaved UV from hardware decoders), converted here with the
// stream's matrix and range.

uniform sampler2D u_dream0;    // RGB, or Y
uniform sampler2D u_dream1;    // U, or interleaved UV for nv12
uniform sampler2D u_dream2;    // V (yuv420p only)
uniform int   u_dream_yuv;     // 0 = RGB, 1 = Y/U/V planes (yuv420p), 2 = Y + UV (nv12)
uniform mat3  u_dream_matrix;  // rgb = matrix * (yuv - offset)
uniform vec3  u_dream_offset;
uniform sampler2D u_control0;
uniform sampler2D u_control1;
uniform sampler2D u_control2;
uniform int   u_control_yuv;
uniform mat3  u_control_matrix;
uniform vec3  u_control_offset;
uniform int   u_has_control;   // 0: show the dream alone
uniform float u_dose;          // 0 = control, 1 = dream, >1 exaggerates the residual (dream - control)

uniform mat3  u_rotation;      // camera-to-world rotation R = Ry(-yaw) Rx(pitch) Rz(-roll)
uniform vec4  u_tan;           // frustum tangents: left, right, bottom, top (left/bottom negative)
uniform vec4  u_viewport;      // x, y, width, height of the target rectangle in window pixels
uniform int   u_layout;        // 0 = mono, 1 = top-bottom stereo
uniform int   u_eye;           // 0 = left (top half), 1 = right (bottom half)
uniform int   u_sphere;        // 1: the target is the whole sphere (equirect, top row up), not a view

out vec4 frag_color;

const float PI = 3.14159265358979323846;

// row coordinate inside one eye's half, kept half a texel away from the other eye
float eye_t(float t, float rows) {
    if (u_layout != 1) return t;
    float half_texel = 0.5 / rows;
    return clamp(t * 0.5, half_texel, 0.5 - half_texel) + 0.5 * float(u_eye);
}

vec3 fetch(sampler2D p0, sampler2D p1, sampler2D p2, int yuv, mat3 m, vec3 off, float s, float t) {
    float rows0 = float(textureSize(p0, 0).y);
    if (yuv == 0) {
        return texture(p0, vec2(s, eye_t(t, rows0))).rgb;
    }
    float rows1 = float(textureSize(p1, 0).y);
    float y = texture(p0, vec2(s, eye_t(t, rows0))).r;
    vec2 st1 = vec2(s, eye_t(t, rows1));
    vec2 uv = (yuv == 2) ? texture(p1, st1).rg                          // nv12: interleaved U, V
                         : vec2(texture(p1, st1).r, texture(p2, st1).r);  // yuv420p: separate planes
    return m * (vec3(y, uv) - off);
}

void main() {
    // pixel centre -> normalised position in [0, 1] over the target rectangle (bottom-up in GL)
    vec2 q = (gl_FragCoord.xy - u_viewport.xy) / u_viewport.zw;
    float s = q.x;
    float t = 1.0 - q.y;
    if (u_sphere == 0) {
        // camera-space ray through that pixel (asymmetric frustum allowed, as OpenXR gives per eye)
        vec3 cam = vec3(mix(u_tan.x, u_tan.y, q.x), mix(u_tan.z, u_tan.w, q.y), -1.0);
        vec3 d = u_rotation * cam;
        float lon = atan(d.x, -d.z);
        float lat = atan(d.y, length(d.xz));
        s = lon / (2.0 * PI) + 0.5;
        t = 0.5 - lat / PI;
    }
    vec3 color = fetch(u_dream0, u_dream1, u_dream2, u_dream_yuv, u_dream_matrix, u_dream_offset, s, t);
    if (u_has_control != 0) {
        vec3 control = fetch(u_control0, u_control1, u_control2, u_control_yuv, u_control_matrix,
                             u_control_offset, s, t);
        color = control + u_dose * (color - control);
    }
    frag_color = vec4(clamp(color, 0.0, 1.0), 1.0);
}
