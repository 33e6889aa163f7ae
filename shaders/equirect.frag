#version 330 core
// One ray per pixel -> (longitude, latitude) -> equirectangular texture.
// Conventions as in hallucinator/sphere.py: view space x right, y up, -z forward;
// lon = atan(x, -z) grows to the right, lat = asin(y); texture row 0 is the top (lat +90).
// No sphere mesh: no pinch at the poles; GL_REPEAT in s with linear filtering: no seam at +-180.

uniform sampler2D u_dream;     // equirect RGB, rows uploaded top first
uniform sampler2D u_control;   // matched control video (same layout); used when u_has_control
uniform mat3  u_rotation;      // camera-to-world rotation R = Ry(-yaw) Rx(pitch) Rz(-roll)
uniform vec4  u_tan;           // tangents of the view frustum: left, right, bottom, top (left/bottom negative)
uniform vec4  u_viewport;      // x, y, width, height of the target rectangle in window pixels
uniform float u_dose;          // 0 = control, 1 = dream, >1 exaggerates the residual (dream - control)
uniform int   u_has_control;   // 0: show the dream alone
uniform int   u_layout;        // 0 = mono, 1 = top-bottom stereo
uniform int   u_eye;           // 0 = left (top half), 1 = right (bottom half)
uniform vec2  u_tex_size;      // texture size in texels (width, height) of the whole frame
uniform float u_brightness;    // multiplies the result (1 = unchanged)

out vec4 frag_color;

const float PI = 3.14159265358979323846;

vec3 sample_equirect(sampler2D tex, vec2 uv) {
    return texture(tex, uv).rgb;
}

void main() {
    // pixel centre -> normalised position in [0, 1] over the target rectangle (bottom-up in GL)
    vec2 q = (gl_FragCoord.xy - u_viewport.xy) / u_viewport.zw;
    // camera-space ray through that pixel (asymmetric frustum allowed, as OpenXR gives per eye)
    vec3 cam = vec3(mix(u_tan.x, u_tan.y, q.x), mix(u_tan.z, u_tan.w, q.y), -1.0);
    vec3 d = normalize(u_rotation * cam);
    float lon = atan(d.x, -d.z);
    float lat = atan(d.y, length(d.xz));
    float s = lon / (2.0 * PI) + 0.5;
    float t = 0.5 - lat / PI;
    if (u_layout == 1) {
        // top-bottom stereo: each eye has half the rows; keep half a texel inside its half so
        // linear filtering never reads the other eye
        float half_texel = 0.5 / u_tex_size.y;
        t = clamp(t * 0.5, half_texel, 0.5 - half_texel) + 0.5 * float(u_eye);
    }
    vec2 uv = vec2(s, t);
    vec3 dream = sample_equirect(u_dream, uv);
    vec3 color = dream;
    if (u_has_control != 0) {
        vec3 control = sample_equirect(u_control, uv);
        color = control + u_dose * (dream - control);
    }
    frag_color = vec4(clamp(color * u_brightness, 0.0, 1.0), 1.0);
}
