#!/usr/bin/env bash
# Renders datasets/sample/ (issue 5): a few frames of each library scenario family at 640×360,
# day and night, on the GPU path (on a machine without a GPU: Mesa's software Vulkan driver,
# lavapipe). Run from the repository root; GAUNTLET names the binary (default: target/release).
set -euo pipefail
G=${GAUNTLET:-target/release/gauntlet}
rm -rf datasets/sample
render() { # scenario case times
  "$G" render "$1" --case "$2" --times "$3" --device gpu --size 640x360 --dataset sample
}
render scenarios/euro-ncap/ccrs.toml 'euro-ncap/ccrs/overlap_pct=100,vut_speed_kph=50' 0,1.5,3
render scenarios/euro-ncap/cpna.toml 'euro-ncap/cpna/impact_point_pct=75,light=day,vut_speed_kph=40' 0,1.5,2.5,3.2
render scenarios/euro-ncap/cpna.toml 'euro-ncap/cpna/impact_point_pct=75,light=night,vut_speed_kph=40' 1.5,2.5,3.2
render scenarios/euro-ncap/cbla.toml 'euro-ncap/cbla/vut_speed_kph=40' 0,2,3.5
render scenarios/cn-cdas-draft/cones.toml 'cn-cdas-draft/cones/v_smaxset_kph=80' 6,8,8.8
render scenarios/cn-cdas-draft/overturned-car.toml 'cn-cdas-draft/overturned-car/light=day,v_smaxset_kph=80' 5,7,8.5
render scenarios/cn-cdas-draft/overturned-car.toml 'cn-cdas-draft/overturned-car/light=night,v_smaxset_kph=80' 7,8.5
render scenarios/cn-cdas-draft/barrier.toml 'cn-cdas-draft/barrier/light=day,v_smaxset_kph=80' 5,7,8.5
render scenarios/cn-cdas-draft/cut-in.toml 'cn-cdas-draft/cut-in/light=day,v_smaxset_kph=80' 0,2,4
render scenarios/cn-cdas-draft/cut-in.toml 'cn-cdas-draft/cut-in/light=night,v_smaxset_kph=80' 2,4
render scenarios/un-r157/cut-in.toml 'un-r157/cut-in/ego_speed_kph=80,end_ttc_s=3,from_lane=1,speed_diff_kph=30' 0,3,6,8
du -sh datasets/sample
